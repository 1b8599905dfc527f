/**
 * A console session as it is stored, where every process sharing the registry reads it. Nothing in
 * it opens the admin API or a form: the session id is kept only as its SHA-256, the admin token and
 * the one-time notice only sealed under a key that the id alone gives (session-secrets.ts), and the
 * form token is not kept at all (it is derived from the id).
 */
export interface StoredConsoleSession {
  /** SHA-256 of the session id, base64url. */
  idHash: string;
  clientId: string;
  /** The client's organisation when last seen. */
  rsin: string;
  scope: string;
  /** The admin token's id: revoked when the session ends. */
  jti: string;
  secretId: string;
  /** Epoch seconds at which the admin token expires. */
  tokenExpiresAt: number;
  /** The admin token, sealed (AES-256-GCM) under the session id's key. */
  tokenSealed: string;
  /** The notice for the next page, sealed likewise; null when there is none. */
  flashSealed: string | null;
  /** Epoch ms. */
  createdAt: number;
  lastSeenAt: number;
  /** Epoch ms of the absolute end, whatever the activity. */
  endsAt: number;
}

/**
 * Where console sessions live: the registry's database (every process serves every session, and a
 * restart signs nobody out). Each session is ended once: `take*` deletes and returns only the rows
 * this call deleted, so that of several processes ending the same session one revokes its token.
 */
export interface ConsoleSessionStore {
  insert(session: StoredConsoleSession): Promise<void>;
  get(idHash: string): Promise<StoredConsoleSession | undefined>;
  /** Moves lastSeenAt forward to `t` (never back); false when the session is gone. */
  touch(idHash: string, t: number): Promise<boolean>;
  /** Writes the organisation and notice; nothing when the session is gone. */
  update(idHash: string, changes: { rsin?: string; flashSealed?: string | null }): Promise<void>;
  /** Deletes the session; returns it when this call deleted it. */
  take(idHash: string): Promise<StoredConsoleSession | undefined>;
  /**
   * The database's clock, epoch ms: the one clock every process sharing the store reads alike (a
   * process's own may run ahead or behind).
   */
  databaseNow(): Promise<number>;
  /** Deletes at most `limit` sessions past `endsAt` or last seen `idleMs` or longer before `t`, and returns them. */
  takeExpired(t: number, idleMs: number, limit: number): Promise<StoredConsoleSession[]>;
  /** Deletes the client's sessions beyond its `keep` newest (by createdAt), and returns them. */
  takeBeyond(clientId: string, keep: number): Promise<StoredConsoleSession[]>;
  count(): Promise<number>;
  /** The client holding the most sessions, with their number; undefined when there are none. */
  busiestClient(): Promise<{ clientId: string; sessions: number } | undefined>;
  /**
   * Runs `work` on the store inside one transaction that no other `serialized` call, of this process
   * or another, runs beside: a sign-in's count, evictions and insert are one step, so that racing
   * sign-ins cannot together exceed the caps (each would count the room before the others' inserts).
   * `work` uses only the store it is given.
   */
  serialized<T>(work: (store: ConsoleSessionStore) => Promise<T>): Promise<T>;
}

/** ConsoleSessionStore in this process's memory: for unit tests, and the store contract's reference. */
export class MemoryConsoleSessionStore implements ConsoleSessionStore {
  private readonly rows = new Map<string, StoredConsoleSession>();
  /** The end of the queue of `serialized` calls. */
  private queue: Promise<unknown> = Promise.resolve();

  /** `clock`: what stands for the database's clock (this host's, by default). */
  constructor(private readonly clock: () => number = Date.now) {}

  async databaseNow(): Promise<number> {
    return this.clock();
  }

  async insert(session: StoredConsoleSession): Promise<void> {
    if (this.rows.has(session.idHash)) throw new Error('session id hash taken');
    this.rows.set(session.idHash, { ...session });
  }

  async get(idHash: string): Promise<StoredConsoleSession | undefined> {
    const row = this.rows.get(idHash);
    return row && { ...row };
  }

  async touch(idHash: string, t: number): Promise<boolean> {
    const row = this.rows.get(idHash);
    if (!row) return false;
    row.lastSeenAt = Math.max(row.lastSeenAt, t);
    return true;
  }

  async update(idHash: string, changes: { rsin?: string; flashSealed?: string | null }): Promise<void> {
    const row = this.rows.get(idHash);
    if (!row) return;
    if (changes.rsin !== undefined) row.rsin = changes.rsin;
    if (changes.flashSealed !== undefined) row.flashSealed = changes.flashSealed;
  }

  async take(idHash: string): Promise<StoredConsoleSession | undefined> {
    const row = this.rows.get(idHash);
    this.rows.delete(idHash);
    return row;
  }

  async takeExpired(t: number, idleMs: number, limit: number): Promise<StoredConsoleSession[]> {
    const out: StoredConsoleSession[] = [];
    for (const row of this.rows.values()) {
      if (out.length >= limit) break;
      if (row.endsAt <= t || row.lastSeenAt <= t - idleMs) out.push(row);
    }
    for (const row of out) this.rows.delete(row.idHash);
    return out;
  }

  async takeBeyond(clientId: string, keep: number): Promise<StoredConsoleSession[]> {
    const newestFirst = [...this.rows.values()]
      .filter((r) => r.clientId === clientId)
      .sort((a, b) => b.createdAt - a.createdAt || (a.idHash < b.idHash ? 1 : -1));
    const out = newestFirst.slice(Math.max(0, keep));
    for (const row of out) this.rows.delete(row.idHash);
    return out;
  }

  async count(): Promise<number> {
    return this.rows.size;
  }

  async busiestClient(): Promise<{ clientId: string; sessions: number } | undefined> {
    const counts = new Map<string, number>();
    for (const row of this.rows.values()) counts.set(row.clientId, (counts.get(row.clientId) ?? 0) + 1);
    let best: [string, number] | undefined;
    for (const entry of counts) if (!best || entry[1] > best[1]) best = entry;
    return best && { clientId: best[0], sessions: best[1] };
  }

  serialized<T>(work: (store: ConsoleSessionStore) => Promise<T>): Promise<T> {
    const run = this.queue.then(() => work(this));
    this.queue = run.catch(() => {});
    return run;
  }
}
