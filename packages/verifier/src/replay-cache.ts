import crypto from 'node:crypto';

/**
 * Identifiers that may be used once (a DPoP proof's `jti`). The same shape as zgw-auth's own port,
 * so that one implementation serves both. `expiresAt` is epoch milliseconds: after it the
 * identifier may be forgotten, because whatever carried it is refused as too old by then.
 */
export interface ReplayCache {
  /** True the first time `id` is used in `namespace`, false for a replay. */
  useOnce(namespace: string, id: string, expiresAt: number): Promise<boolean> | boolean;
}

/** A short key of fixed size whatever the identifier's length or characters (128 bits of SHA-256). */
export function replayKey(namespace: string, id: string): string {
  // Encoded from the first 16 bytes, not sliced from a longer string: a slice keeps the whole one alive.
  return crypto
    .createHash('sha256')
    .update(namespace)
    .update('\u0000')
    .update(id)
    .digest()
    .toString('base64url', 0, 16);
}

/**
 * One process's memory: at most `maxEntries` identifiers. Two generations, each spanning about one
 * lifetime: the older one is dropped whole once everything in it has expired, so no per-entry
 * bookkeeping and no sweeps. When it is full of live identifiers, a new one is refused (a
 * `ReplayCacheFull` error) rather than an old one forgotten, which would let that one be replayed.
 */
export class MemoryReplayCache implements ReplayCache {
  // Expiries in whole seconds after `base`: small integers, which V8 keeps in the map itself
  // rather than as a number object per entry: about 80 bytes an entry, measured (bench, dpop group).
  private young = new Map<string, number>();
  private old = new Map<string, number>();
  private youngExpiry = -Infinity;
  private oldExpiry = -Infinity;
  private readonly base: number;

  constructor(
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {
    this.base = now();
  }

  useOnce(namespace: string, id: string, expiresAt: number): boolean {
    const t = (this.now() - this.base) / 1000;
    const key = replayKey(namespace, id);
    if ((this.young.get(key) ?? -Infinity) > t || (this.old.get(key) ?? -Infinity) > t) return false;
    if (t >= this.oldExpiry) {
      this.old = this.young;
      this.oldExpiry = this.youngExpiry;
      this.young = new Map();
      this.youngExpiry = -Infinity;
    }
    if (this.young.size + this.old.size >= this.maxEntries) throw new ReplayCacheFull();
    const expiry = Math.ceil((expiresAt - this.base) / 1000);
    this.young.set(key, expiry);
    if (expiry > this.youngExpiry) this.youngExpiry = expiry;
    return true;
  }

  /** Identifiers held now, expired ones not yet dropped included. */
  get size(): number {
    return this.young.size + this.old.size;
  }
}

/** The cache holds as many live identifiers as it may: a new one cannot be checked now. */
export class ReplayCacheFull extends Error {
  constructor() {
    super('the replay cache is full: retry shortly');
    this.name = 'ReplayCacheFull';
  }
}

/** The part of an ioredis or node-redis v4 client used: `SET key value PXAT ms NX`. */
export interface RedisSetNx {
  set(key: string, value: string, mode: 'PXAT', at: number, condition: 'NX'): Promise<unknown>;
}

/**
 * A ReplayCache every process of an API shares through Redis (6.2 or later): `SET NX` with the
 * identifier's expiry, so Redis forgets it by itself. Works with an ioredis client as is; for
 * node-redis wrap it: `{ set: (k, v, _m, at) => client.set(k, v, { PXAT: at, NX: true }) }`.
 */
export function redisReplayCache(redis: RedisSetNx, prefix = 'zgw-auth:once:'): ReplayCache {
  return {
    async useOnce(namespace, id, expiresAt) {
      return (await redis.set(prefix + replayKey(namespace, id), '1', 'PXAT', Math.ceil(expiresAt), 'NX')) === 'OK';
    },
  };
}
