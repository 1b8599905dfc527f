import {
  type ActivityStore,
  type ClientActivity,
  HOUR_MS,
  type HourActivity,
  type OrganisationActivity,
} from './activity.js';
import type { AuditLog } from './audit-log.js';
/** The period of the report: the last 7 days, in whole hours. */
export const ACTIVITY_HOURS = 7 * 24;
const TOP = 20;

export interface ActivityReport {
  /** Epoch ms of the first hour. */
  since: number;
  /** Every hour of the period, oldest first, zeros included. */
  hours: HourActivity[];
  clients: ClientActivity[];
  organisations: OrganisationActivity[];
}

/** Tokens issued and failed authentications per hour over the last 7 days, per client and per organisation. */
export class Activity {
  constructor(
    private readonly store: ActivityStore,
    private readonly audit: Pick<AuditLog, 'flush'>,
    private readonly now: () => number = Date.now,
  ) {}

  async report(filter: { clientId?: string | undefined; rsin?: string | undefined } = {}): Promise<ActivityReport> {
    // Buffered events (the token endpoint writes in batches) count too.
    await this.audit.flush(true);
    const since = (Math.floor(this.now() / HOUR_MS) - (ACTIVITY_HOURS - 1)) * HOUR_MS;
    const query = { since, ...filter };
    const [counted, clients, organisations] = await Promise.all([
      this.store.perHour(query),
      this.store.perClient(query, TOP),
      this.store.perOrganisation(query, TOP),
    ]);
    const byHour = new Map(counted.map((h) => [h.hour, h]));
    const hours = Array.from({ length: ACTIVITY_HOURS }, (_, i) => since + i * HOUR_MS).map(
      (hour) => byHour.get(hour) ?? { hour, issued: 0, failed: 0 },
    );
    return { since, hours, clients, organisations };
  }
}
