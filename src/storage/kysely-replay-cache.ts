import type { Kysely, QueryResult } from '#kysely';
import { type ReplayCache, replayKey } from '../limits/replay-cache.js';
import { prepareQuery } from './prepared.js';
import type { Database } from './schema.js';

const PURGE_EVERY_MS = 60_000;
/** Rows per insert statement: 3 parameters each, far below SQLite's and PostgreSQL's limits. */
export const MAX_BATCH = 64;

/** One identifier's row in used_once, as a use writes it. */
export interface UsedOnceRow {
  namespace: string;
  idHash: string;
  expiresAt: number;
}

interface PendingUse extends UsedOnceRow {
  resolve(fresh: boolean): void;
  reject(err: unknown): void;
}

type InsertBatch = (parameters: readonly unknown[]) => Promise<QueryResult<{ namespace: string; id_hash: string }>>;

/**
 * ReplayCache in the registry's database (table used_once): the primary key makes the first
 * insert win across processes. A row whose time is over may be taken again; expired rows are
 * deleted at most once a minute.
 *
 * Uses that arrive in the same turn of the event loop (one turn's finished proof checks) go to the
 * database as one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`: one statement and one
 * commit for all of them instead of one each, which under load is most of what a use costs on
 * SQLite. The statement returns the rows it inserted, so each use still learns on its own whether
 * it was the first; the database decides, as for a single insert.
 */
export class KyselyReplayCache implements ReplayCache {
  private purgedAt = 0;
  private pending: PendingUse[] = [];
  private scheduled = false;
  private readonly inserts = new Map<number, InsertBatch>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  useOnce(namespace: string, id: string, expiresAt: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ namespace, idHash: replayKey(id), expiresAt, resolve, reject });
      if (this.pending.length >= MAX_BATCH) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    if (!batch.length) return;
    this.pending = [];
    void this.decide(batch);
  }

  private async decide(batch: readonly PendingUse[]): Promise<void> {
    const t = this.now();
    // One row per identifier: a second use in the same batch is a replay of the first, whatever
    // the first one's fate (spent now, or spent before).
    const first = new Map<string, PendingUse>();
    const repeats: PendingUse[] = [];
    for (const use of batch) {
      const key = `${use.namespace}\u0000${use.idHash}`;
      if (first.has(key)) repeats.push(use);
      else first.set(key, use);
    }
    for (const use of repeats) use.resolve(false);
    const uses = [...first.values()];
    let inserted: Set<string>;
    try {
      const result = await this.insertBatch(uses.length)(uses.flatMap((u) => [u.namespace, u.idHash, u.expiresAt]));
      inserted = new Set(result.rows.map((r) => `${r.namespace}\u0000${r.id_hash}`));
    } catch (err) {
      for (const use of uses) use.reject(err);
      return;
    }
    this.purge(t);
    for (const [key, use] of first) {
      if (inserted.has(key)) use.resolve(true);
      else this.retake(use, t).then(use.resolve, use.reject);
    }
  }

  /**
   * Taken: usable again only when the earlier use's time is over (one statement, so one winner).
   * A purge (here or in another process) may have deleted the expired row since the insert
   * conflicted: then the identifier is new again, and one insert decides between the racers.
   * (Protected: a test steps in before it, to purge the row at exactly that moment.)
   */
  protected async retake(use: UsedOnceRow, t: number): Promise<boolean> {
    const retaken = await this.db
      .updateTable('used_once')
      .set({ expires_at: use.expiresAt })
      .where('namespace', '=', use.namespace)
      .where('id_hash', '=', use.idHash)
      .where('expires_at', '<=', t)
      .executeTakeFirst();
    if (Number(retaken.numUpdatedRows) > 0) return true;
    const inserted = await this.db
      .insertInto('used_once')
      .values({ namespace: use.namespace, id_hash: use.idHash, expires_at: use.expiresAt })
      .onConflict((oc) => oc.columns(['namespace', 'id_hash']).doNothing())
      .returning('id_hash')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  private insertBatch(rows: number): InsertBatch {
    let insert = this.inserts.get(rows);
    if (insert === undefined) {
      insert = prepareQuery(this.db, (db) =>
        db
          .insertInto('used_once')
          .values(Array.from({ length: rows }, () => ({ namespace: '', id_hash: '', expires_at: 0 })))
          .onConflict((oc) => oc.columns(['namespace', 'id_hash']).doNothing())
          .returning(['namespace', 'id_hash']),
      );
      this.inserts.set(rows, insert);
    }
    return insert;
  }

  private purge(t: number): void {
    if (t - this.purgedAt < PURGE_EVERY_MS) return;
    this.purgedAt = t;
    void this.db
      .deleteFrom('used_once')
      .where('expires_at', '<=', t)
      .execute()
      .catch(() => {});
  }
}
