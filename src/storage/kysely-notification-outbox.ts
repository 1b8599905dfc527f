import type { Kysely } from '#kysely';
import type {
  NotificationOutbox,
  Notificatie,
  OutboxEntry,
  PendingNotification,
} from '../autorisaties/notifications.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/** Writes a notification in the caller's transaction: it exists exactly when the change it announces does. */
export async function writeNotification(trx: Db, pending: PendingNotification): Promise<void> {
  await trx
    .insertInto('notification_outbox')
    .values({
      applicatie_uuid: pending.applicatie,
      message: JSON.stringify(pending.message),
      attempts: 0,
      next_attempt_at: pending.at,
      claimed_until: null,
      failed_at: null,
      last_error: null,
      created_at: pending.at,
    })
    .execute();
}

/** The outbox on SQLite or PostgreSQL. */
export class KyselyNotificationOutbox implements NotificationOutbox {
  constructor(private readonly db: Db) {}

  async claim(now: number, leaseUntil: number, limit: number): Promise<OutboxEntry[]> {
    const due = this.db
      .selectFrom('notification_outbox as o')
      .select('o.id')
      .where('o.failed_at', 'is', null)
      .where('o.next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('o.claimed_until', 'is', null), eb('o.claimed_until', '<=', now)]))
      // in order per applicatie: only the oldest row of an applicatie that is not failed for good.
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('notification_outbox as p')
              .select('p.id')
              .whereRef('p.applicatie_uuid', '=', 'o.applicatie_uuid')
              .where('p.failed_at', 'is', null)
              .whereRef('p.id', '<', 'o.id'),
          ),
        ),
      )
      .orderBy('o.id')
      .limit(limit);
    // The claim is checked again on the row itself: of two processes that picked the same row,
    // PostgreSQL lets the second re-read it after the first's update, and it no longer matches.
    const rows = await this.db
      .updateTable('notification_outbox')
      .set({ claimed_until: leaseUntil })
      .where('id', 'in', due)
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
      .returning(['id', 'applicatie_uuid', 'message', 'attempts'])
      .execute();
    return rows
      .map((r) => ({
        id: Number(r.id),
        applicatie: r.applicatie_uuid,
        message: JSON.parse(r.message) as Notificatie,
        attempts: Number(r.attempts),
      }))
      .sort((a, b) => a.id - b.id);
  }

  async extend(ids: readonly number[], heldUntil: number, until: number): Promise<number[]> {
    if (ids.length === 0) return [];
    // Renewed only while still this claim: its lease value tells it from a later process's claim.
    const rows = await this.db
      .updateTable('notification_outbox')
      .set({ claimed_until: until })
      .where('id', 'in', [...ids])
      .where('claimed_until', '=', heldUntil)
      .returning('id')
      .execute();
    return rows.map((r) => Number(r.id));
  }

  async delivered(id: number): Promise<void> {
    await this.db.deleteFrom('notification_outbox').where('id', '=', id).execute();
  }

  async retryAt(id: number, at: number, error: string): Promise<void> {
    await this.db
      .updateTable('notification_outbox')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        next_attempt_at: at,
        claimed_until: null,
        last_error: error.slice(0, 500),
      }))
      .where('id', '=', id)
      .execute();
  }

  async failed(id: number, at: number, error: string): Promise<void> {
    await this.db
      .updateTable('notification_outbox')
      .set((eb) => ({
        attempts: eb('attempts', '+', 1),
        failed_at: at,
        claimed_until: null,
        last_error: error.slice(0, 500),
      }))
      .where('id', '=', id)
      .execute();
  }

  async release(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('notification_outbox')
      .set({ claimed_until: null })
      .where('id', 'in', [...ids])
      .execute();
  }

  async depth(): Promise<number> {
    const r = await this.db
      .selectFrom('notification_outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('failed_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
