import type { Redis } from 'ioredis';
import { type ReplayCache, replayKey } from './replay-cache.js';

/**
 * ReplayCache with Redis as an early filter before the registry's database, which always decides.
 * Redis alone cannot be the record: a use while Redis fails or is slow would be remembered only in
 * the database, and a replay after it returns (or at a process whose Redis still answers) would pass.
 * So an identifier Redis has seen is refused at once, and every other one is inserted in the database.
 */
export class RedisReplayCache implements ReplayCache {
  constructor(
    private readonly redis: Redis,
    private readonly authority: ReplayCache,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
    private readonly prefix = 'zgw-auth:once:',
  ) {}

  async useOnce(namespace: string, id: string, expiresAt: number): Promise<boolean> {
    const ttl = Math.max(1, expiresAt - this.now());
    try {
      const set = await this.redis.set(`${this.prefix}${namespace}:${replayKey(id)}`, '1', 'PX', ttl, 'NX');
      if (set !== 'OK') return false;
    } catch (err) {
      this.onError(err);
    }
    return this.authority.useOnce(namespace, id, expiresAt);
  }
}
