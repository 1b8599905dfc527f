/**
 * Notifications of the Autorisaties API, as the ZGW Notificaties API defines them: every create,
 * update and destroy of an applicatie is published on kanaal `autorisaties`, with the applicatie
 * as both hoofdObject and resource, and no kenmerken (the reference implementation lists none for
 * this kanaal). The actie is the name of the operation, as the reference implementations write it.
 */

/** The kanaal the Autorisaties API publishes on. */
export const KANAAL = 'autorisaties';
/** The resource every notification of the kanaal is about. */
export const RESOURCE = 'applicatie';

export type Actie = 'create' | 'update' | 'partial_update' | 'destroy';

/** A Notificatie (Notificaties API 1.0) as sent. */
export interface Notificatie {
  kanaal: string;
  hoofdObject: string;
  resource: string;
  resourceUrl: string;
  actie: Actie;
  /** ISO 8601 date-time of the change. */
  aanmaakdatum: string;
  kenmerken: Record<string, string>;
}

/** A notification to be written in the transaction of the change it announces. */
export interface PendingNotification {
  applicatie: string;
  message: Notificatie;
  at: number;
}

export function notificatie(resourceUrl: string, actie: Actie, at: number): Notificatie {
  return {
    kanaal: KANAAL,
    hoofdObject: resourceUrl,
    resource: RESOURCE,
    resourceUrl,
    actie,
    aanmaakdatum: new Date(at).toISOString(),
    kenmerken: {},
  };
}

/** One notification in the outbox, claimed by this process for one attempt. */
export interface OutboxEntry {
  id: number;
  applicatie: string;
  message: Notificatie;
  /** Attempts made before this one. */
  attempts: number;
}

/**
 * Where notifications wait until the Notificaties API accepted them. Shared by every process on
 * the registry: `claim` hands a row to one process at a time, until `leaseUntil`.
 */
export interface NotificationOutbox {
  /**
   * Up to `limit` rows due at `now`, each the oldest waiting one of its applicatie (a later one of
   * the same applicatie waits until the earlier is delivered or failed for good), taken by this
   * process until `leaseUntil`.
   */
  claim(now: number, leaseUntil: number, limit: number): Promise<OutboxEntry[]>;
  /**
   * The claims of these rows, taken until `heldUntil`, held until `until` now; returns the ids of
   * those renewed. A row whose claim lapsed and was taken by another process is not: its claim
   * differs.
   */
  extend(ids: readonly number[], heldUntil: number, until: number): Promise<number[]>;
  /** Delivered: the row goes. */
  delivered(id: number): Promise<void>;
  /** Not delivered: tried again from `at`. */
  retryAt(id: number, at: number, error: string): Promise<void>;
  /** Refused for good: kept, marked, never sent again; later rows of its applicatie go on. */
  failed(id: number, at: number, error: string): Promise<void>;
  /** Claims given back unsent (the process stops): the rows are due again at once. */
  release(ids: readonly number[]): Promise<void>;
  /** Rows waiting to be delivered (not failed for good). */
  depth(): Promise<number>;
}
