import { type Kysely, sql } from '#kysely';
import type {
  ActivityQuery,
  ActivityStore,
  ClientActivity,
  HourActivity,
  OrganisationActivity,
} from '../audit/activity.js';
import type { Dialect } from './dialect.js';
import type { Database } from './schema.js';

const HOUR_MS = 3_600_000;

/** ActivityStore on SQLite or PostgreSQL: grouped counts over audit_events (index audit_events_at). */
export class KyselyActivityStore implements ActivityStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  /** A failure repeated within the audit window is one row with `count` in its details. */
  private weight() {
    const count =
      this.dialect === 'postgres'
        ? sql<number>`(a.details::jsonb ->> 'count')::bigint`
        : sql<number>`json_extract(a.details, '$.count')`;
    return sql<number>`coalesce(${count}, 1)`;
  }

  private counts() {
    const w = this.weight();
    return [
      sql<number>`sum(case when a.action = 'token.issued' then 1 else 0 end)`.as('issued'),
      sql<number>`sum(case when a.action = 'client_auth.failed' then ${w} else 0 end)`.as('failed'),
    ] as const;
  }

  /**
   * An event counts for the organisation it recorded, never for whoever holds its client id now: an
   * id deleted and registered elsewhere, or registered after failures for it, inherits nothing.
   */
  private base(query: ActivityQuery) {
    let q = this.db
      .selectFrom('audit_events as a')
      .where('a.at', '>=', query.since)
      .where('a.action', 'in', ['token.issued', 'client_auth.failed']);
    if (query.clientId !== undefined) q = q.where('a.target', '=', query.clientId);
    if (query.rsin !== undefined) q = q.where('a.organisation', '=', query.rsin);
    return q;
  }

  async perHour(query: ActivityQuery): Promise<HourActivity[]> {
    const q = this.base(query);
    const hour = sql<number>`(a.at / ${sql.lit(HOUR_MS)})`;
    const rows = await q
      .select([hour.as('h'), ...this.counts()])
      .groupBy(hour)
      .execute();
    return rows.map((r) => ({ hour: Number(r.h) * HOUR_MS, issued: Number(r.issued), failed: Number(r.failed) }));
  }

  async perClient(query: ActivityQuery, limit: number): Promise<ClientActivity[]> {
    const q = this.base(query);
    const [issued, failed] = this.counts();
    const rows = await q
      .select(['a.target as clientId', 'a.organisation as rsin', issued, failed])
      .groupBy(['a.target', 'a.organisation'])
      .orderBy(sql`count(*)`, 'desc')
      .orderBy('a.target')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      clientId: r.clientId,
      rsin: r.rsin,
      issued: Number(r.issued),
      failed: Number(r.failed),
    }));
  }

  async perOrganisation(query: ActivityQuery, limit: number): Promise<OrganisationActivity[]> {
    const q = this.base(query);
    const [issued, failed] = this.counts();
    const rows = await q
      .select(['a.organisation as rsin', issued, failed])
      .groupBy('a.organisation')
      .orderBy(sql`count(*)`, 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ rsin: r.rsin, issued: Number(r.issued), failed: Number(r.failed) }));
  }
}
