import { type Kysely, sql } from '#kysely';
import type {
  ActivityQuery,
  ActivityStore,
  ClientActivity,
  HourActivity,
  OrganisationActivity,
} from '../audit/activity.js';
import { NO_ORGANISATION } from './activity-counts.js';
import type { Database } from './schema.js';

const orNull = (rsin: string) => (rsin === NO_ORGANISATION ? null : rsin);

/**
 * ActivityStore on SQLite or PostgreSQL: sums over audit_hourly_counts, which the audit store
 * keeps with every event it writes (activity-counts.ts). A report reads the rows of 168 hours, one
 * per client, organisation and action that had events in that hour, however many events there were.
 */
export class KyselyActivityStore implements ActivityStore {
  constructor(private readonly db: Kysely<Database>) {}

  private counts() {
    return [
      sql<number>`sum(case when c.action = 'token.issued' then c.count else 0 end)`.as('issued'),
      sql<number>`sum(case when c.action = 'client_auth.failed' then c.count else 0 end)`.as('failed'),
    ] as const;
  }

  /**
   * An event counts for the organisation it recorded, never for whoever holds its client id now: an
   * id deleted and registered elsewhere, or registered after failures for it, inherits nothing.
   */
  private base(query: ActivityQuery) {
    let q = this.db
      .selectFrom('audit_hourly_counts as c')
      .where('c.hour', '>=', query.since)
      .where('c.action', 'in', ['token.issued', 'client_auth.failed']);
    if (query.clientId !== undefined) q = q.where('c.client_id', '=', query.clientId);
    if (query.rsin !== undefined) q = q.where('c.organisation', '=', query.rsin);
    return q;
  }

  async perHour(query: ActivityQuery): Promise<HourActivity[]> {
    const rows = await this.base(query)
      .select(['c.hour', ...this.counts()])
      .groupBy('c.hour')
      .execute();
    return rows.map((r) => ({ hour: Number(r.hour), issued: Number(r.issued), failed: Number(r.failed) }));
  }

  async perClient(query: ActivityQuery, limit: number): Promise<ClientActivity[]> {
    const rows = await this.base(query)
      .select(['c.client_id', 'c.organisation', ...this.counts()])
      .groupBy(['c.client_id', 'c.organisation'])
      .orderBy(sql`sum(c.count)`, 'desc')
      .orderBy('c.client_id')
      .orderBy('c.organisation')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      clientId: r.client_id,
      rsin: orNull(r.organisation),
      issued: Number(r.issued),
      failed: Number(r.failed),
    }));
  }

  async perOrganisation(query: ActivityQuery, limit: number): Promise<OrganisationActivity[]> {
    const rows = await this.base(query)
      .select(['c.organisation', ...this.counts()])
      .groupBy('c.organisation')
      .orderBy(sql`sum(c.count)`, 'desc')
      .orderBy('c.organisation')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ rsin: orNull(r.organisation), issued: Number(r.issued), failed: Number(r.failed) }));
  }
}
