import type pg from 'pg';
import { type Change, LocalChangeFeed, parseChange } from '../changes/change-feed.js';
import { storageError } from './storage-errors.js';

const CHANNEL = 'zgw_auth_changes';

/**
 * PostgreSQL LISTEN/NOTIFY: every process holds one listening connection and reconnects when it
 * drops. While it is down, caches fall back to their time bounds; on reconnect everything is
 * treated as changed, because notifications sent in the gap are lost.
 */
export class PostgresChangeFeed extends LocalChangeFeed {
  private listener: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly onError: (err: unknown) => void,
  ) {
    super();
  }

  async start(): Promise<void> {
    const { default: pg } = await import('pg');
    // keepAlive: a connection that died silently (no reset reaches us) is noticed, not listened on for ever.
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 3000, keepAlive: true });
    // Attached before connecting and never removed: a dying connection can emit 'error' more
    // than once (a FATAL message, then the reset socket), and one without a listener would end
    // the process. Errors of a connection that is no longer the listener are ignored.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('change feed connection ended')));
    client.on('notification', (msg) => {
      try {
        this.events.emit('change', parseChange(msg.payload));
      } catch (err) {
        this.onError(err);
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      // Connected but not listening (e.g. terminated between the two): do not leave it open.
      void client.end().catch(() => {});
      throw storageError(err);
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.listener = client;
  }

  override async publish(change: Change): Promise<void> {
    await super.publish(change);
    if (!this.listener) return;
    // This process gets its own echo too; handling a change twice is harmless.
    await this.listener.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(change)]).catch(this.onError);
  }

  private lost(client: pg.Client, err: unknown): void {
    if (client !== this.listener) return;
    this.listener = undefined;
    void client.end().catch(() => {});
    this.retryLater(err);
  }

  private retryLater(err: unknown): void {
    if (this.closed || this.retry) return;
    this.onError(err);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.start()
        .then(() => this.events.emit('change', { kind: 'all' } satisfies Change))
        .catch((e: unknown) => this.retryLater(e));
    }, 1000);
    this.retry.unref();
  }

  override async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => {});
    await super.close();
  }
}

/** How often a SQLite process looks for other processes' commits. */
export const SQLITE_POLL_MS = 150;

/**
 * SQLite: other processes (a CLI command, cluster workers) cannot notify this one, but every commit
 * of another connection changes this connection's `data_version`. A change seen there is announced
 * as `all`: which rows changed is unknown, and caches reload what they need.
 */
export class SqliteChangeFeed extends LocalChangeFeed {
  private readonly timer: NodeJS.Timeout;
  private version: number;

  constructor(
    private readonly dataVersion: () => number,
    onError: (err: unknown) => void,
    intervalMs = SQLITE_POLL_MS,
  ) {
    super();
    this.version = dataVersion();
    this.timer = setInterval(() => {
      try {
        const v = this.dataVersion();
        if (v === this.version) return;
        this.version = v;
        this.events.emit('change', { kind: 'all' } satisfies Change);
      } catch (err) {
        onError(err);
      }
    }, intervalMs);
    // A process with nothing else to do may exit.
    this.timer.unref();
  }

  override async close(): Promise<void> {
    clearInterval(this.timer);
    await super.close();
  }
}
