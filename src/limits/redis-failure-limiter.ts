import { createHash } from 'node:crypto';
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

/**
 * A Lua script run by its SHA-1 (EVALSHA): the source goes over the wire, and is hashed by Redis,
 * only when Redis does not have it yet (first use, or after a restart or SCRIPT FLUSH).
 */
class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: Array<string | number> = []): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const recordScript = new LuaScript(RECORD);
const stateScript = new LuaScript(STATE);

/** Failure counts shared by every process through Redis; time is Redis's, so process clocks may differ. */
export class RedisFailureLimiter implements FailureLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'zgw-auth:fail:',
  ) {}

  async state(keys: string[]): Promise<KeyState[]> {
    const redisKeys = keys.flatMap((k) => [`${this.prefix}count:${k}`, `${this.prefix}block:${k}`]);
    const raw = (await stateScript.run(this.redis, redisKeys)) as number[];
    return keys.map((_, i) => ({
      failures: raw[2 * i]!,
      wait: raw[2 * i + 1]! > 0 ? Math.ceil(raw[2 * i + 1]! / 1000) : 0,
    }));
  }

  async recordFailure(keys: LimitedKey[]): Promise<number[]> {
    return Promise.all(
      keys.map(async ({ key, policy }) => {
        const failures = (await recordScript.run(
          this.redis,
          [`${this.prefix}count:${key}`],
          [policy.maxSeconds * 1000],
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
