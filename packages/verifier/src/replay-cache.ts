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
  // Records in typed arrays, appended in the order they come: per identifier the first 128 bits
  // of SHA-256(namespace, id) and its expiry in whole seconds after `base`, found through an
  // open-addressing index of record numbers. No JS object or string is kept per identifier, so
  // nothing of it is traced or moved by the garbage collector: 24 bytes a record and 8 to 16 of
  // index. The arrays grow by doubling up to `maxEntries` records.
  private keys = new Int32Array(0);
  /** Float64: any expiry a caller gives (a far one, Infinity) stays exact, never wraps to the past. */
  private expiries = new Float64Array(0);
  /** Record number + 1 at each slot, 0 for an empty slot; length a power of two, at least twice the records'. */
  private index = new Int32Array(0);
  /** Records in use, live or expired (until a sweep drops the expired ones). */
  private held = 0;
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
    this.resize(Math.min(maxEntries, 1024));
  }

  useOnce(namespace: string, id: string, expiresAt: number, owner?: string): boolean {
    const t = (this.now() - this.base) / 1000;
    if (t >= this.nextExpiry) this.expire(t);
    // SHA-256 as 32 latin1 characters (no buffer to make); its first 16 bytes as four integers.
    const digest = sha256Latin1(`${namespace}\u0000${id}`);
    const k0 = word(digest, 0);
    const k1 = word(digest, 4);
    const k2 = word(digest, 8);
    const k3 = word(digest, 12);
    const record = this.find(k0, k1, k2, k3);
    if (record >= 0 && this.expiries[record]! > t) return false;
    // Live ones only: the expired ones were subtracted above.
    if (this.live >= this.maxEntries) throw new ReplayCacheFull();
    if (owner !== undefined && (this.owners.get(owner) ?? 0) >= this.maxPerOwner)
      throw new ReplayCacheFull('this key has as many proofs in the replay cache as one key may: retry shortly');
    const expiry = Math.ceil((expiresAt - this.base) / 1000);
    // NaN would never count as live, so a replay of it would pass, nor as expired, so never be dropped.
    if (Number.isNaN(expiry)) throw new RangeError(`expiresAt must be epoch milliseconds, not ${String(expiresAt)}`);
    // Expired already: nothing to remember.
    if (expiry <= t) return true;
    if (record >= 0) this.expiries[record] = expiry;
    else this.append(k0, k1, k2, k3, expiry, t);
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
    return this.held;
  }

  /** The record of this key, or -1. */
  private find(k0: number, k1: number, k2: number, k3: number): number {
    const { index, keys } = this;
    const mask = index.length - 1;
    for (let slot = k0 & mask; ; slot = (slot + 1) & mask) {
      const r = index[slot]! - 1;
      if (r < 0) return -1;
      const at = r * 4;
      if (keys[at] === k0 && keys[at + 1] === k1 && keys[at + 2] === k2 && keys[at + 3] === k3) return r;
    }
  }

  private append(k0: number, k1: number, k2: number, k3: number, expiry: number, t: number): void {
    // Full of records but not of live ones (checked by the caller): some expired since the last sweep.
    if (this.held >= this.maxEntries) {
      this.sweep(t);
      // None dropped: the clock stepped back, and what `live` stopped counting is live again. Refused,
      // for a record past the arrays' end would be lost unseen and its identifier replayable.
      if (this.held >= this.maxEntries) throw new ReplayCacheFull();
    } else if (this.held >= this.expiries.length) this.resize(Math.min(this.maxEntries, this.expiries.length * 2));
    const r = this.held++;
    this.keys[r * 4] = k0;
    this.keys[r * 4 + 1] = k1;
    this.keys[r * 4 + 2] = k2;
    this.keys[r * 4 + 3] = k3;
    this.expiries[r] = expiry;
    this.place(r);
  }

  /** Puts record `r` in the index (the index has an empty slot: it is twice as large as the records). */
  private place(r: number): void {
    const { index } = this;
    const mask = index.length - 1;
    let slot = this.keys[r * 4]! & mask;
    while (index[slot] !== 0) slot = (slot + 1) & mask;
    index[slot] = r + 1;
  }

  /** Room for `records` records: the arrays copied, the index made anew. */
  private resize(records: number): void {
    const keys = new Int32Array(records * 4);
    keys.set(this.keys.subarray(0, this.held * 4));
    const expiries = new Float64Array(records);
    expiries.set(this.expiries.subarray(0, this.held));
    this.keys = keys;
    this.expiries = expiries;
    this.reindex();
  }

  private reindex(): void {
    let slots = 16;
    while (slots < this.expiries.length * 2) slots *= 2;
    this.index = new Int32Array(slots);
    for (let r = 0; r < this.held; r++) this.place(r);
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

  /** Drops the expired records, keeping the order of the rest; runs only when some expired since the last run (see useOnce). */
  private sweep(t: number): void {
    const { keys, expiries } = this;
    let kept = 0;
    for (let r = 0; r < this.held; r++) {
      if (expiries[r]! <= t) continue;
      if (kept !== r) {
        keys.copyWithin(kept * 4, r * 4, r * 4 + 4);
        expiries[kept] = expiries[r]!;
      }
      kept++;
    }
    this.held = kept;
    this.reindex();
  }
}

/** Four latin1 characters of `text` from `at` as a 32-bit integer. */
function word(text: string, at: number): number {
  return (
    (text.charCodeAt(at) << 24) |
    (text.charCodeAt(at + 1) << 16) |
    (text.charCodeAt(at + 2) << 8) |
    text.charCodeAt(at + 3)
  );
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
