import type { Redis } from 'ioredis';
import { backoffSeconds, type FailureLimiter, type KeyState, type LimitedKey } from './failure-limiter.js';

// One round trip per failure, atomic across processes: count, remember for maxSeconds; the caller
// then blocks for the back-off.
const RECORD = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n`;

// Every key's count and remaining block in one round trip: the check before each authentication.
const STATE = `
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = tonumber(redis.call('GET', KEYS[i]) or '0')
  out[#out + 1] = redis.call('PTTL', KEYS[i + 1])
end
return out`;

/** Failure counts shared by every process through Redis; time is Redis's, so process clocks may differ. */
export class RedisFailureLimiter implements FailureLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'zgw-auth:fail:',
  ) {}

  async state(keys: string[]): Promise<KeyState[]> {
    const redisKeys = keys.flatMap((k) => [`${this.prefix}count:${k}`, `${this.prefix}block:${k}`]);
    const raw = (await this.redis.eval(STATE, redisKeys.length, ...redisKeys)) as number[];
    return keys.map((_, i) => ({
      failures: raw[2 * i]!,
      wait: raw[2 * i + 1]! > 0 ? Math.ceil(raw[2 * i + 1]! / 1000) : 0,
    }));
  }

  async recordFailure(keys: LimitedKey[]): Promise<number[]> {
    return Promise.all(
      keys.map(async ({ key, policy }) => {
        const failures = (await this.redis.eval(
          RECORD,
          1,
          `${this.prefix}count:${key}`,
          policy.maxSeconds * 1000,
        )) as number;
        const wait = backoffSeconds(failures, policy);
        if (wait > 0) await this.redis.set(`${this.prefix}block:${key}`, '1', 'PX', wait * 1000);
        return failures;
      }),
    );
  }

  async reset(keys: string[]): Promise<void> {
    if (keys.length)
      await this.redis.del(...keys.flatMap((k) => [`${this.prefix}count:${k}`, `${this.prefix}block:${k}`]));
  }
}
