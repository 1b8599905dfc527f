import { BoundedCache } from '@zgw-auth/verifier';

/**
 * Exponential back-off after failed client authentication. Keys are chosen by the caller (per
 * address, per client id from one address), so one guessing address never locks out a legitimate
 * client elsewhere.
 */
export interface FailureLimiter {
  /** Seconds the caller must still wait (0: allowed), the longest over all keys. */
  retryAfter(keys: string[]): Promise<number>;
  recordFailure(keys: string[]): Promise<void>;
  reset(keys: string[]): Promise<void>;
}

export interface BackoffPolicy {
  threshold: number;
  baseSeconds: number;
  maxSeconds: number;
}

export function backoffSeconds(failures: number, policy: BackoffPolicy): number {
  if (failures < policy.threshold) return 0;
  return Math.min(policy.baseSeconds * 2 ** Math.min(failures - policy.threshold, 30), policy.maxSeconds);
}

interface Entry {
  failures: number;
  blockedUntil: number;
  lastFailure: number;
}

/** One process's limiter; bounded so that a flood of distinct keys cannot exhaust memory. */
export class MemoryFailureLimiter implements FailureLimiter {
  private readonly entries: BoundedCache<string, Entry>;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly now: () => number = Date.now,
    maxEntries = 100_000,
  ) {
    this.entries = new BoundedCache(maxEntries);
  }

  async retryAfter(keys: string[]): Promise<number> {
    const t = this.now();
    let wait = 0;
    for (const key of keys) {
      const e = this.entries.get(key);
      if (e && e.blockedUntil > t) wait = Math.max(wait, Math.ceil((e.blockedUntil - t) / 1000));
    }
    return wait;
  }

  async recordFailure(keys: string[]): Promise<void> {
    const t = this.now();
    for (const key of keys) {
      let e = this.entries.get(key);
      if (!e || t - e.lastFailure > this.policy.maxSeconds * 1000) e = { failures: 0, blockedUntil: 0, lastFailure: t };
      e.failures++;
      e.lastFailure = t;
      e.blockedUntil = t + backoffSeconds(e.failures, this.policy) * 1000;
      this.entries.set(key, e);
    }
  }

  async reset(keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }
}
