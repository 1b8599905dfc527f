import type { Redis } from 'ioredis';
import { type ReplayCache, replayKey } from './replay-cache.js';

/**
 * ReplayCache in Redis: SET NX with the entry's own expiry, atomic across processes. When Redis
 * does not answer, the fallback (the registry's database) decides, so an outage refuses no one.
 */
export class RedisReplayCache implements ReplayCache {
  constructor(
    private readonly redis: Redis,
    private readonly fallback: ReplayCache,
    private readonly onError: (err: unknown) => void,
    private readonly now: () => number = Date.now,
    private readonly prefix = 'zgw-auth:once:',
  ) {}

  async useOnce(namespace: string, id: string, expiresAt: number): Promise<boolean> {
    const ttl = Math.max(1, expiresAt - this.now());
    try {
      const set = await this.redis.set(`${this.prefix}${namespace}:${replayKey(id)}`, '1', 'PX', ttl, 'NX');
      return set === 'OK';
    } catch (err) {
      this.onError(err);
      return this.fallback.useOnce(namespace, id, expiresAt);
    }
  }
}
