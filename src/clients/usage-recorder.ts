import type { ClientStore, StoredSecret } from './client-store.js';
import type { Client, ClientKey } from './model.js';

/** How exact "last used" is, for secrets and clients (see note). */
export const USAGE_PRECISION_MS = 300_000;
const USAGE_WRITES_PER_FLUSH = 250;
const USAGE_BACKLOG_MAX = 10_000;

/**
 * "Last used" of secrets and clients, written in batches: a successful authentication marks its
 * secret, and the marks reach the store a few per second instead of one write per token.
 */
export class UsageRecorder {
  /** Secret id → client id of secrets to mark as used at the next flush. */
  private usage = new Map<string, string>();
  /** `clientId kid` of keys to mark as used at the next flush. */
  private keyUsage = new Map<string, { clientId: string; kid: string }>();
  private usageTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Pick<ClientStore, 'recordUsage' | 'recordKeyUsage'>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Writes buffered last-used marks with the flush time: at most USAGE_WRITES_PER_FLUSH per second
   * while serving, so that a burst of first uses across a large registry cannot stall requests;
   * everything (`all`) on shutdown.
   */
  async flush(all = true): Promise<void> {
    if (this.usageTimer) clearTimeout(this.usageTimer);
    this.usageTimer = undefined;
    const secretIds: string[] = [];
    const clientIds = new Set<string>();
    for (const [secretId, clientId] of this.usage) {
      if (!all && secretIds.length >= USAGE_WRITES_PER_FLUSH) break;
      secretIds.push(secretId);
      clientIds.add(clientId);
      this.usage.delete(secretId);
    }
    const keys: { clientId: string; kid: string }[] = [];
    for (const [id, key] of this.keyUsage) {
      if (!all && secretIds.length + keys.length >= USAGE_WRITES_PER_FLUSH) break;
      keys.push(key);
      this.keyUsage.delete(id);
    }
    if (this.usage.size || this.keyUsage.size) this.scheduleUsageFlush();
    if (secretIds.length) await this.store.recordUsage(secretIds, [...clientIds], this.now());
    if (keys.length) await this.store.recordKeyUsage(keys, this.now());
  }

  private scheduleUsageFlush(): void {
    this.usageTimer ??= setTimeout(() => void this.flush(false).catch(() => {}), 1000);
    this.usageTimer.unref();
  }

  /**
   * "Last used" is kept to USAGE_PRECISION_MS: a secret already marked within that time is not
   * written again, so a busy registry costs a handful of writes per second, not one per token.
   */
  note(secret: StoredSecret, client: Client): void {
    const t = this.now();
    if (
      secret.lastUsedAt !== null &&
      t - secret.lastUsedAt < USAGE_PRECISION_MS &&
      client.lastTokenAt !== null &&
      t - client.lastTokenAt < USAGE_PRECISION_MS
    )
      return;
    // A backlog this large means writes are behind: drop the mark, a later token brings it back.
    if (this.usage.size >= USAGE_BACKLOG_MAX) return;
    // The cached copies say what will be stored, so the next token from cache writes nothing.
    secret.lastUsedAt = t;
    client.lastTokenAt = t;
    this.usage.set(secret.secretId, client.clientId);
    this.scheduleUsageFlush();
  }

  /** A registered key that verified an assertion: "last used" as for secrets (see note). */
  noteKey(key: ClientKey, client: Client): void {
    const t = this.now();
    if (
      key.lastUsedAt !== null &&
      t - key.lastUsedAt < USAGE_PRECISION_MS &&
      client.lastTokenAt !== null &&
      t - client.lastTokenAt < USAGE_PRECISION_MS
    )
      return;
    if (this.usage.size + this.keyUsage.size >= USAGE_BACKLOG_MAX) return;
    key.lastUsedAt = t;
    client.lastTokenAt = t;
    this.keyUsage.set(`${key.clientId} ${key.kid}`, { clientId: key.clientId, kid: key.kid });
    this.scheduleUsageFlush();
  }
}
