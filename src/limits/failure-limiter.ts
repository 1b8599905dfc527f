import { BoundedCache } from '@zgw-auth/verifier/internal';

/**
 * Counts failures per key and blocks a key with exponential back-off. Which keys, and when a block
 * applies to a request, is the GuessingGuard's policy; this is only the counting.
 */
export interface FailureLimiter {
  /** Per key: failures remembered and seconds the key is still blocked (0: not blocked). */
  state(keys: string[]): Promise<KeyState[]>;
  /** Counts one failure on each key under its own policy; returns the new counts. */
  recordFailure(keys: LimitedKey[]): Promise<number[]>;
  reset(keys: string[]): Promise<void>;
}

export interface KeyState {
  failures: number;
  wait: number;
}

export interface LimitedKey {
  key: string;
  policy: BackoffPolicy;
}

export interface BackoffPolicy {
  threshold: number;
  baseSeconds: number;
  /** Longest back-off, and how long failures are remembered. */
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
  rememberMs: number;
}

/** One process's limiter; bounded so that a flood of distinct keys cannot exhaust memory. */
export class MemoryFailureLimiter implements FailureLimiter {
  private readonly entries: BoundedCache<string, Entry>;

  constructor(
    private readonly now: () => number = Date.now,
    maxEntries = 100_000,
  ) {
    this.entries = new BoundedCache(maxEntries);
  }

  async state(keys: string[]): Promise<KeyState[]> {
    const t = this.now();
    return keys.map((key) => {
      const e = this.entries.get(key);
      if (!e || t - e.lastFailure > e.rememberMs) return { failures: 0, wait: 0 };
      return { failures: e.failures, wait: e.blockedUntil > t ? Math.ceil((e.blockedUntil - t) / 1000) : 0 };
    });
  }

  async recordFailure(keys: LimitedKey[]): Promise<number[]> {
    const t = this.now();
    return keys.map(({ key, policy }) => {
      let e = this.entries.get(key);
      if (!e || t - e.lastFailure > e.rememberMs)
        e = { failures: 0, blockedUntil: 0, lastFailure: t, rememberMs: policy.maxSeconds * 1000 };
      e.failures++;
      e.lastFailure = t;
      e.blockedUntil = t + backoffSeconds(e.failures, policy) * 1000;
      this.entries.set(key, e);
      return e.failures;
    });
  }

  async reset(keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }
}
