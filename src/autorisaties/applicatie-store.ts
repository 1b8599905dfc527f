import type { UncountedEvent } from '../audit/audit-store.js';
import type { Applicatie } from './model.js';
import type { PendingNotification } from './notifications.js';

/** An audit event written by `once` with its mark. */
export type OnceEvent = UncountedEvent;

export interface ApplicatieFilter {
  /** Applicaties holding every one of these client ids (the reference implementation's `contains`). */
  clientIds?: readonly string[];
  limit: number;
  offset: number;
}

/** Client ids another applicatie holds (ac-001), found while writing: the write was not made. */
export class ClientIdsTaken extends Error {
  constructor(readonly taken: ReadonlyArray<{ clientId: string; applicatie: string }>) {
    super('client ids in another applicatie');
  }
}

/** Client ids the registry does not hold (any more), found while writing: the write was not made. */
export class ClientIdsUnknown extends Error {
  constructor() {
    super('client ids not in the registry');
  }
}

/** Where applicaties live. Newest first. */
export interface ApplicatieStore {
  list(filter: ApplicatieFilter): Promise<{ items: Applicatie[]; total: number }>;
  get(uuid: string): Promise<Applicatie | undefined>;
  /** The applicatie holding this client id. */
  byClientId(clientId: string): Promise<Applicatie | undefined>;
  /**
   * Throws ClientIdsTaken or ClientIdsUnknown, writing nothing. The notification, when given, is
   * written to the outbox in the same transaction: it exists exactly when the change does.
   */
  insert(applicatie: Applicatie, notification?: PendingNotification): Promise<void>;
  /** Writes every field of a stored applicatie; false when it is gone. Throws like insert. */
  replace(applicatie: Applicatie, notification?: PendingNotification): Promise<boolean>;
  /** False when it is gone (and then no notification is written). */
  delete(uuid: string, notification?: PendingNotification): Promise<boolean>;
  /** The organisation (RSIN) of each of these client ids the registry holds. */
  clientOrganisations(clientIds: readonly string[]): Promise<Map<string, string>>;
  /**
   * Once per registry: `grant` runs, in one transaction with the mark, when the mark `name` is not
   * set yet; the audit event it returns is written in that transaction too (a crash keeps neither
   * the mark nor the grant without it).
   */
  once(name: string, grant: (store: ApplicatieStore) => Promise<OnceEvent | undefined>): Promise<boolean>;
}
