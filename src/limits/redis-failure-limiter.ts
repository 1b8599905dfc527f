import type { Redis } from 'ioredis';
import { type BackoffPolicy, backoffSeconds, type FailureLimiter } from './failure-limiter.js';

// One round trip per failure, atomic across processes: count, remember for maxSeconds, block for the back-off.
const RECORD = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n`;

/** Failure counts shared by every process through Redis; time is Redis's, so process clocks may differ. */
export class RedisFailureLimiter implements FailureLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly policy: BackoffPolicy,
    private readonly prefix = 'zgw-auth:fail:',
  ) {}

  async retryAfter(keys: string[]): Promise<number> {
    const ttls = await Promise.all(keys.map((k) => this.redis.pttl(`${this.prefix}block:${k}`)));
    return Math.max(0, ...ttls.map((ms) => (ms > 0 ? Math.ceil(ms / 1000) : 0)));
  }

  async recordFailure(keys: string[]): Promise<void> {
    await Promise.all(
      keys.map(async (k) => {
        const failures = (await this.redis.eval(RECORD, 1, `${this.prefix}count:${k}`, this.policy.maxSeconds * 1000)) as number;
        const wait = backoffSeconds(failures, this.policy);
        if (wait > 0) await this.redis.set(`${this.prefix}block:${k}`, '1', 'PX', wait * 1000);
      }),
    );
  }

  async reset(keys: string[]): Promise<void> {
    if (keys.length) await this.redis.del(...keys.flatMap((k) => [`${this.prefix}count:${k}`, `${this.prefix}block:${k}`]));
  }
}

/**
 * Shared limits while Redis answers, this process's own limits while it does not: token issuance
 * never stops because Redis is down. Logs once when the shared limits are lost and once when back.
 */
export class FallbackFailureLimiter implements FailureLimiter {
  private degraded = false;

  constructor(
    private readonly shared: FailureLimiter,
    private readonly local: FailureLimiter,
    private readonly log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void },
  ) {}

  retryAfter(keys: string[]): Promise<number> {
    return this.use((l) => l.retryAfter(keys));
  }
  recordFailure(keys: string[]): Promise<void> {
    return this.use((l) => l.recordFailure(keys));
  }
  reset(keys: string[]): Promise<void> {
    return this.use((l) => l.reset(keys));
  }

  private async use<T>(op: (limiter: FailureLimiter) => Promise<T>): Promise<T> {
    try {
      const result = await op(this.shared);
      if (this.degraded) {
        this.degraded = false;
        this.log.info({}, 'Redis is back: failed-authentication limits are shared again');
      }
      return result;
    } catch (err) {
      if (!this.degraded) {
        this.degraded = true;
        this.log.warn({ err }, 'Redis unreachable: failed-authentication limits are per process until it returns');
      }
      return op(this.local);
    }
  }
}
