// The registry's change notifications, as the domains see them: a port that each storage
// implements its own way (src/storage/change-feed.ts: PostgreSQL LISTEN/NOTIFY, SQLite polling).
import { EventEmitter } from 'node:events';

/** A registry change other processes must see at once: a client (and its secrets), an organisation, the key set or a revoked token. */
export type Change = { kind: 'client'; clientId: string } | { kind: 'organisation'; rsin: string } | { kind: 'keys' } | { kind: 'revocation'; jti: string } | { kind: 'all' };

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
