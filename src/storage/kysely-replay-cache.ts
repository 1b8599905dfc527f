import type { Kysely } from 'kysely';
import { type ReplayCache, replayKey } from '../limits/replay-cache.js';
import type { Database } from './schema.js';

const PURGE_EVERY_MS = 60_000;

/**
 * ReplayCache in the registry's database (table used_once): the primary key makes the first
 * insert win across processes. A row whose time is over may be taken again; expired rows are
 * deleted at most once a minute.
 */
export class KyselyReplayCache implements ReplayCache {
  private purgedAt = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async useOnce(namespace: string, id: string, expiresAt: number): Promise<boolean> {
    const t = this.now();
    const idHash = replayKey(id);
    const inserted = await this.db
      .insertInto('used_once')
      .values({ namespace, id_hash: idHash, expires_at: expiresAt })
      .onConflict((oc) => oc.columns(['namespace', 'id_hash']).doNothing())
      .executeTakeFirst();
    this.purge(t);
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
    // Taken: usable again only when the earlier use's time is over (one statement, so one winner).
    const retaken = await this.db
      .updateTable('used_once')
      .set({ expires_at: expiresAt })
      .where('namespace', '=', namespace)
      .where('id_hash', '=', idHash)
      .where('expires_at', '<=', t)
      .executeTakeFirst();
    return Number(retaken.numUpdatedRows) > 0;
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
