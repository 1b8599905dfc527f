// The registry's change notifications, as the domains see them: a port that each storage
// implements its own way (src/storage/change-feed.ts: PostgreSQL LISTEN/NOTIFY, SQLite polling).
import { EventEmitter } from 'node:events';

/** A registry change other processes must see at once: a client (and its secrets), an organisation, the key set, a revoked token or the Autorisaties API's applicaties. */
export type Change =
  | { kind: 'client'; clientId: string }
  | { kind: 'autorisaties' }
  | { kind: 'organisation'; rsin: string }
  | { kind: 'keys' }
  | { kind: 'revocation'; jti: string }
  | { kind: 'all' };

/**
 * A change as another process sent it (a PostgreSQL notification): parsed, never trusted. Anything
 * that is not a change this version knows is treated as "everything changed", which costs caches
 * a reload and never keeps a stale entry.
 */
export function parseChange(payload: string | undefined): Change {
  let value: unknown;
  try {
    value = JSON.parse(payload ?? '');
  } catch {
    return { kind: 'all' };
  }
  if (typeof value !== 'object' || value === null) return { kind: 'all' };
  const { kind, clientId, rsin, jti } = value as Record<string, unknown>;
  if (kind === 'client' && typeof clientId === 'string') return { kind, clientId };
  if (kind === 'organisation' && typeof rsin === 'string') return { kind, rsin };
  if (kind === 'revocation' && typeof jti === 'string') return { kind, jti };
  if (kind === 'keys' || kind === 'autorisaties') return { kind };
  return { kind: 'all' };
}

export interface ChangeFeed {
  /** Tells this process and, where the storage allows, every other process sharing the database. */
  publish(change: Change): Promise<void>;
  onChange(listener: (change: Change) => void): void;
  close(): Promise<void>;
}

/** Changes reach only this process. */
export class LocalChangeFeed implements ChangeFeed {
  protected readonly events = new EventEmitter();

  async publish(change: Change): Promise<void> {
    this.events.emit('change', change);
  }
  onChange(listener: (change: Change) => void): void {
    this.events.on('change', listener);
  }
  async close(): Promise<void> {
    this.events.removeAllListeners();
  }
}
