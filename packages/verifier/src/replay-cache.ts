import crypto from 'node:crypto';
import { sha256Latin1 } from './digest.js';

/**
 * Identifiers that may be used once (a DPoP proof's `jti`). The same shape as zgw-auth's own port,
 * so that one implementation serves both. `expiresAt` is epoch milliseconds: after it the
 * identifier may be forgotten, because whatever carried it is refused as too old by then.
 */
export interface ReplayCache {
  /**
   * True the first time `id` is used in `namespace`, false for a replay. `owner` names who made the
   * identifier (a DPoP proof's key thumbprint): a cache may bound each owner's share of it.
   */
  useOnce(namespace: string, id: string, expiresAt: number, owner?: string): Promise<boolean> | boolean;
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
 * One process's memory: at most `maxEntries` identifiers held, live or expired. A new identifier
 * is refused (a `ReplayCacheFull` error) rather than a live one forgotten, which would let that one
 * be replayed: when `maxEntries` live ones are held, and when its owner (a DPoP key) holds its
 * share of them already, `max(1000, maxEntries / 8)` by default, so that one key cannot fill the
 * cache for every other. Expired identifiers count for nothing: they are dropped when room is
 * needed, at most once per second of expiry, so that a full cache never costs a sweep per request.
 */
export class MemoryReplayCache implements ReplayCache {
  // Expiries in whole seconds after `base`: small integers, which V8 keeps in the map itself
  // rather than as a number object per entry. Keys are the identifiers' SHA-256 as 32 latin1
  // characters. Measured full (100,000): about 85 bytes an entry when the proofs share a few keys;
  // each key of its own adds its per-key counts.
  private readonly entries = new Map<string, number>();
  /** Live identifiers by the second they expire in, per owner ('' for none): what `live` counts. */
  private readonly expiring = new Map<number, Map<string, number>>();
  /** Live identifiers per owner, for owners that have any. */
  private readonly owners = new Map<string, number>();
  private live = 0;
  /** The earliest second in `expiring`: before it nothing expires. */
  private nextExpiry = Infinity;
  private readonly base: number;
  /** Live identifiers one owner may hold. */
  readonly maxPerOwner: number;

  constructor(
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
    options: { maxPerOwner?: number } = {},
  ) {
    this.base = now();
    this.maxPerOwner = options.maxPerOwner ?? Math.max(1000, Math.floor(maxEntries / 8));
  }

  useOnce(namespace: string, id: string, expiresAt: number, owner?: string): boolean {
    const t = (this.now() - this.base) / 1000;
    if (t >= this.nextExpiry) this.expire(t);
    // The full SHA-256 as 32 latin1 characters: no base64 to make, no buffer, no slice to keep alive.
    const key = sha256Latin1(`${namespace}\u0000${id}`);
    const held = this.entries.get(key);
    if (held !== undefined && held > t) return false;
    // Live ones only: the expired ones were subtracted above.
    if (this.live >= this.maxEntries) throw new ReplayCacheFull();
    if (owner !== undefined && (this.owners.get(owner) ?? 0) >= this.maxPerOwner)
      throw new ReplayCacheFull('this key has as many proofs in the replay cache as one key may: retry shortly');
    const expiry = Math.ceil((expiresAt - this.base) / 1000);
    // Expired already: nothing to remember.
    if (expiry <= t) return true;
    // Full of entries but not of live ones (checked above): some expired since the last sweep.
    if (held === undefined && this.entries.size >= this.maxEntries) this.sweep(t);
    this.entries.set(key, expiry);
    const who = owner ?? '';
    let second = this.expiring.get(expiry);
    if (!second) this.expiring.set(expiry, (second = new Map()));
    second.set(who, (second.get(who) ?? 0) + 1);
    if (owner !== undefined) this.owners.set(owner, (this.owners.get(owner) ?? 0) + 1);
    this.live++;
    if (expiry < this.nextExpiry) this.nextExpiry = expiry;
    return true;
  }

  /** Identifiers held now, expired ones not yet dropped included: never more than `maxEntries`. */
  get size(): number {
    return this.entries.size;
  }

  /** Stops counting what expired by `t`: once per second that holds expiries, over the seconds held. */
  private expire(t: number): void {
    let next = Infinity;
    for (const [second, byOwner] of this.expiring) {
      if (second > t) {
        if (second < next) next = second;
        continue;
      }
      for (const [who, n] of byOwner) {
        this.live -= n;
        if (who === '') continue;
        const left = (this.owners.get(who) ?? 0) - n;
        if (left > 0) this.owners.set(who, left);
        else this.owners.delete(who);
      }
      this.expiring.delete(second);
    }
    this.nextExpiry = next;
  }

  /** Drops the expired identifiers; runs only when some expired since the last run (see useOnce). */
  private sweep(t: number): void {
    for (const [key, expiry] of this.entries) if (expiry <= t) this.entries.delete(key);
  }
}

/** The cache holds as many live identifiers as it may: a new one cannot be checked now. */
export class ReplayCacheFull extends Error {
  constructor(message = 'the replay cache is full: retry shortly') {
    super(message);
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
