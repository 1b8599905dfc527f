import { crashPoint } from '../crash-point.js';

/**
 * Credentials of clients that stop working on a date of their own, warned about before they do:
 * - `secret`: a client secret given an expiry (`expiresAt`), not revoked;
 * - `key`: a registered public key of a client that authenticates with private_key_jwt (and not
 *   with self_signed_tls_client_auth), whose `x5c` certificate's notAfter is when the key stops;
 * - `certificate`: a certificate registered for self_signed_tls_client_auth (pasted as PEM, or a
 *   key with `x5c` of a client that authenticates with it), which it presents on TLS.
 * A key without a certificate never expires, nor does a secret without an expiry.
 */
export const CREDENTIAL_KINDS = ['secret', 'key', 'certificate'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** A credential that expires within the warning window. */
export interface ExpiringCredential {
  kind: CredentialKind;
  clientId: string;
  /** The client's organisation (RSIN). */
  organisation: string;
  /** Which credential of the client: a secret's id, or a key's (or certificate's) kid. */
  id: string;
  /** RFC 7638 thumbprint of the key or certificate's key; null for a secret. */
  thumbprint: string | null;
  /** Epoch ms. */
  expiresAt: number;
  /** When its coming expiry was announced in the audit trail; null: not yet. */
  announcedAt: number | null;
}

/** The audit event announcing a credential's coming expiry, written by the store with the mark. */
export interface ExpiryAnnouncement {
  actor: 'system';
  action: 'secret.expiring' | 'client_key.expiring';
  target: string;
  organisation: string;
  details: Record<string, unknown>;
}

/** Where the credentials and their announcements are kept. */
export interface CredentialExpiryStore {
  /** Credentials of the kind expiring after `from` and at or before `until`, soonest first, at most `limit`. */
  /** The first `limit` soonest; of one organisation's clients only, when `organisation` is given. */
  expiringCredentials(
    kind: CredentialKind,
    from: number,
    until: number,
    limit: number,
    organisation?: string,
  ): Promise<ExpiringCredential[]>;
  /**
   * Marks the credential as announced at `at` unless it was already, and then writes `event` (at
   * `at`) to the audit trail in the same transaction: true only for the one call (of any process)
   * that marked it, so each credential is announced once, and a crash never keeps the mark without
   * its event.
   */
  announceExpiry(
    kind: CredentialKind,
    clientId: string,
    id: string,
    at: number,
    event: ExpiryAnnouncement,
  ): Promise<boolean>;
}

/** Most expiring credentials looked at per kind in one go (a registry has far fewer). */
export const MAX_EXPIRING = 10_000;
/** The widest window a caller may ask for (GET /admin/expiring?within_days=). */
export const MAX_WITHIN_DAYS = 366;
const DAY_MS = 86_400_000;
/** How often a running server looks for credentials that entered the window. */
export const EXPIRY_CHECK_MS = 3_600_000;

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Where a credential with this expiry stands at `now`: expiring soon (within the window), expired, or neither. */
export function expiryState(
  expiresAt: number | null,
  now: number,
  windowMs: number,
): { expiresSoon: boolean; expired: boolean } {
  if (expiresAt === null) return { expiresSoon: false, expired: false };
  const expired = expiresAt <= now;
  return { expiresSoon: !expired && windowMs > 0 && expiresAt - now <= windowMs, expired };
}

/**
 * The warning before a credential expires (ZGW_AUTH_EXPIRY_WARNING): which credentials are
 * within the window, how many per organisation and kind (the metric), and one audit event per
 * credential when it enters the window (`secret.expiring`, `client_key.expiring` for keys and
 * certificates), persisted so that neither a restart nor a second process repeats it. A
 * credential's expiry never changes (a renewed certificate is a new key, a new expiry a new
 * secret), so once per credential is once per credential and expiry.
 */
export class CredentialExpiry {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly store: CredentialExpiryStore,
    private readonly now: () => number,
    /** The window, in seconds; 0: no warning. */
    readonly windowSeconds: number,
  ) {}

  /** Where a credential expiring at `expiresAt` stands now. */
  state(expiresAt: number | null): { expiresSoon: boolean; expired: boolean } {
    return expiryState(expiresAt, this.now(), this.windowSeconds * 1000);
  }

  /**
   * Every credential within the window now (or within `windowSeconds`, when given: a caller's own
   * look ahead), of every kind, soonest first; of one organisation's clients only, when given (the
   * bound of MAX_EXPIRING per kind applies to that organisation's, not to the whole registry's).
   */
  async expiring(windowSeconds = this.windowSeconds, organisation?: string): Promise<ExpiringCredential[]> {
    if (windowSeconds <= 0) return [];
    const t = this.now();
    const all = await Promise.all(
      CREDENTIAL_KINDS.map((kind) =>
        this.store.expiringCredentials(kind, t, t + windowSeconds * 1000, MAX_EXPIRING, organisation),
      ),
    );
    return all
      .flat()
      .sort(
        (a, b) => a.expiresAt - b.expiresAt || cmp(a.clientId, b.clientId) || cmp(a.kind, b.kind) || cmp(a.id, b.id),
      );
  }

  /** The credentials within the window per organisation and kind. */
  async counts(): Promise<{ organisation: string; kind: CredentialKind; count: number }[]> {
    const counts = new Map<string, { organisation: string; kind: CredentialKind; count: number }>();
    for (const c of await this.expiring()) {
      const key = `${c.kind} ${c.organisation}`;
      const entry = counts.get(key) ?? { organisation: c.organisation, kind: c.kind, count: 0 };
      entry.count++;
      counts.set(key, entry);
    }
    return [...counts.values()];
  }

  /** Announces every credential that entered the window and was not announced yet; how many it announced. */
  announce(): Promise<number> {
    this.running ??= this.announceNow().finally(() => (this.running = undefined));
    return this.running;
  }

  private async announceNow(): Promise<number> {
    let announced = 0;
    for (const c of await this.expiring()) {
      if (c.announcedAt !== null) continue;
      const at = this.now();
      const daysLeft = Math.max(0, Math.floor((c.expiresAt - at) / DAY_MS));
      const event: ExpiryAnnouncement =
        c.kind === 'secret'
          ? {
              actor: 'system',
              action: 'secret.expiring',
              target: c.clientId,
              organisation: c.organisation,
              details: { kind: c.kind, secretId: c.id, expiresAt: c.expiresAt, daysLeft },
            }
          : {
              actor: 'system',
              action: 'client_key.expiring',
              target: c.clientId,
              organisation: c.organisation,
              details: { kind: c.kind, kid: c.id, thumbprint: c.thumbprint, expiresAt: c.expiresAt, daysLeft },
            };
      // The mark and its event are one write: of racing processes one announces, and a crash loses neither alone.
      if (!(await this.store.announceExpiry(c.kind, c.clientId, c.id, at, event))) continue;
      crashPoint('expiry:announced');
      announced++;
    }
    return announced;
  }

  /** Announces now and then every `ms`; the timer keeps no process alive. Failures go to `onError`. */
  start(ms: number, onError: (err: unknown) => void): void {
    if (this.timer || this.windowSeconds <= 0) return;
    const run = () => void this.announce().catch(onError);
    run();
    this.timer = setInterval(run, ms);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
