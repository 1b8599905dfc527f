import { type Kysely, sql } from '#kysely';
import type { AuditFeed, FedEvent, Hold } from '../audit/audit-feed.js';
import type { Dialect } from './dialect.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

interface EventRow {
  id: number | string;
  at: number | string;
  actor: string;
  action: string;
  target: string;
  address: string | null;
  reason: string | null;
  details: string;
  organisation: string | null;
}

const COLUMNS = sql.raw('id, at, actor, action, target, address, reason, details, organisation');

function event(r: EventRow, position: string): FedEvent {
  return {
    id: Number(r.id),
    at: Number(r.at),
    actor: r.actor,
    action: r.action,
    target: r.target,
    address: r.address,
    reason: r.reason,
    details: r.details,
    organisation: r.organisation,
    position,
  };
}

/**
 * The audit trail as a stream (AuditFeed) on SQLite or PostgreSQL.
 *
 * PostgreSQL: an event's place is (tx, id), tx the id of the transaction that wrote or last
 * changed it (migration 0015). Ids come from a sequence when a row is written and become visible
 * at commit, so a reader following ids could pass a row committed late and never see it. A
 * transaction id below the oldest running transaction's (the snapshot's xmin) belongs to a
 * transaction that has ended, and every row written later gets a higher one: rows below it are
 * final, and the feed hands out only those. A transaction left open elsewhere in the cluster
 * holds shipping back until it ends.
 *
 * SQLite: one writer at a time, so ids are in commit order and an event's place is its id, or, once
 * changed, the number in `tx` (taken from the table's AUTOINCREMENT sequence, above every id so far).
 */
export class KyselyAuditFeed implements AuditFeed {
  constructor(
    private readonly db: Db,
    private readonly dialect: Dialect,
  ) {}

  async ensureSink(sink: string, now: number): Promise<void> {
    const end = await this.end();
    await this.db
      .insertInto('audit_sinks')
      .values({ name: sink, position: end, holder: null, held_until: null, updated_at: now })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  /** The position after every event there is (PostgreSQL: after every final one). */
  private async end(): Promise<string> {
    if (this.dialect === 'postgres') {
      const { rows } = await sql<{
        xmin: string;
      }>`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`.execute(this.db);
      return `${rows[0]!.xmin}:0`;
    }
    const { rows } = await sql<{
      k: number | null;
    }>`SELECT max(coalesce((SELECT max(id) FROM audit_events), 0), coalesce((SELECT max(tx) FROM audit_events), 0)) AS k`.execute(
      this.db,
    );
    return String(rows[0]?.k ?? 0);
  }

  async hold(sink: string, holder: string, now: number, until: number): Promise<Hold> {
    const row = await this.db
      .updateTable('audit_sinks')
      .set({ holder, held_until: until, updated_at: now })
      .where('name', '=', sink)
      .where((eb) =>
        eb.or([
          eb('holder', '=', holder),
          eb('holder', 'is', null),
          eb('held_until', 'is', null),
          eb('held_until', '<=', now),
        ]),
      )
      .returning('position')
      .executeTakeFirst();
    return row ? { held: true, position: row.position } : { held: false };
  }

  async advance(sink: string, holder: string, position: string, now: number, until: number): Promise<boolean> {
    this.parse(position);
    const row = await this.db
      .updateTable('audit_sinks')
      .set({ position, held_until: until, updated_at: now })
      .where('name', '=', sink)
      .where('holder', '=', holder)
      .returning('name')
      .executeTakeFirst();
    return row !== undefined;
  }

  async release(sink: string, holder: string): Promise<void> {
    await this.db
      .updateTable('audit_sinks')
      .set({ holder: null, held_until: null })
      .where('name', '=', sink)
      .where('holder', '=', holder)
      .execute();
  }

  async read(position: string, limit: number): Promise<FedEvent[]> {
    const at = this.parse(position);
    if (at.dialect === 'postgres') {
      const { rows } = await sql<EventRow & { tx: string }>`
        SELECT ${COLUMNS}, tx::text AS tx FROM audit_events
        WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) AND (tx, id) > (${at.tx}::xid8, ${at.id})
        ORDER BY tx, id LIMIT ${limit}`.execute(this.db);
      return rows.map((r) => event(r, `${r.tx}:${Number(r.id)}`));
    }
    // Two ordered runs merged (SQLite's MERGE of UNION ALL): rows never changed, by id; changed rows, by tx.
    const { rows } = await sql<EventRow & { k: number }>`
      SELECT * FROM (SELECT ${COLUMNS}, id AS k FROM audit_events WHERE id > ${at.k} AND tx IS NULL ORDER BY id LIMIT ${limit})
      UNION ALL
      SELECT * FROM (SELECT ${COLUMNS}, tx AS k FROM audit_events WHERE tx > ${at.k} ORDER BY tx LIMIT ${limit})
      ORDER BY k LIMIT ${limit}`.execute(this.db);
    return rows.map((r) => event(r, String(r.k)));
  }

  async trim(position: string, keep: number): Promise<{ position: string; skipped: number } | undefined> {
    const at = this.parse(position);
    if (at.dialect === 'postgres') {
      // Among final rows only: a row still being written lands after the new position, never silently skipped.
      const final = sql`tx < pg_snapshot_xmin(pg_current_snapshot())`;
      const after = sql`(tx, id) > (${at.tx}::xid8, ${at.id})`;
      const { rows } = await sql<{ tx: string; id: string | number }>`
        SELECT tx::text AS tx, id FROM audit_events WHERE ${final} AND ${after}
        ORDER BY tx DESC, id DESC OFFSET ${keep} LIMIT 1`.execute(this.db);
      const last = rows[0];
      if (!last) return undefined;
      const { rows: counted } = await sql<{ n: string | number }>`
        SELECT count(*) AS n FROM audit_events
        WHERE ${after} AND (tx, id) <= (${last.tx}::xid8, ${Number(last.id)})`.execute(this.db);
      return { position: `${last.tx}:${Number(last.id)}`, skipped: Number(counted[0]!.n) };
    }
    // Places are distinct whole numbers: no more than (end - position) follow, so most looks stop here.
    if (Number(await this.end()) - at.k <= keep) return undefined;
    const { rows } = await sql<{ k: number }>`
      SELECT id AS k FROM audit_events WHERE id > ${at.k} AND tx IS NULL
      UNION ALL SELECT tx AS k FROM audit_events WHERE tx > ${at.k}
      ORDER BY k DESC LIMIT 1 OFFSET ${keep}`.execute(this.db);
    const last = rows[0];
    if (!last) return undefined;
    const { rows: counted } = await sql<{ n: number }>`
      SELECT (SELECT count(*) FROM audit_events WHERE id > ${at.k} AND id <= ${last.k} AND tx IS NULL)
           + (SELECT count(*) FROM audit_events WHERE tx > ${at.k} AND tx <= ${last.k}) AS n`.execute(this.db);
    return { position: String(last.k), skipped: Number(counted[0]!.n) };
  }

  /** A position as this database writes it; anything else (another database's, a damaged row) is refused. */
  private parse(position: string): { dialect: 'postgres'; tx: string; id: number } | { dialect: 'sqlite'; k: number } {
    if (this.dialect === 'postgres') {
      const m = /^(\d{1,20}):(\d{1,19})$/.exec(position);
      if (m) return { dialect: 'postgres', tx: m[1]!, id: Number(m[2]) };
    } else if (/^\d{1,16}$/.test(position)) return { dialect: 'sqlite', k: Number(position) };
    throw new Error(`audit shipping: not a ${this.dialect} position: ${position.slice(0, 40)}`);
  }
}
