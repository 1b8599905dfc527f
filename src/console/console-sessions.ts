import crypto from 'node:crypto';

/** What the server keeps of a signed-in administrator; the browser holds only the session id. */
export interface ConsoleSession {
  clientId: string;
  /** The administrator client's organisation, as the registry had it at the latest request (read on every one). */
  rsin: string;
  /** The admin scope the session's token holds: global (zgw-auth:admin) or one organisation's. */
  scope: string;
  /** The access token for the admin API: never sent to the browser. */
  accessToken: string;
  jti: string;
  /** The secret the administrator signed in with: the session ends when it is revoked or expires. */
  secretId: string;
  /** Epoch seconds at which the access token expires. */
  tokenExpiresAt: number;
  /** Sent in every form and compared on every POST. */
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
  /** Epoch ms of the absolute end, whatever the activity. */
  endsAt: number;
  /** A one-time notice for the next page (Post/Redirect/Get). */
  flash?: { kind: 'ok' | 'error'; text: string };
}

export interface SessionSettings {
  idleMs: number;
  lifetimeMs: number;
  /** Beyond this many sessions one ends (see create): memory stays bounded whatever sign-ins cost. */
  max?: number;
}

/** Sessions one administrator client may hold at once; its oldest ends beyond this. */
export const SESSIONS_PER_CLIENT = 10;

/**
 * `refused`: the admin API no longer takes the session's token (client disabled, deleted or without
 * the scope); `revoked_secret`, `expired_secret`: the secret the session signed in with no longer opens /token.
 */
export type SessionEnd =
  'signed_out' | 'idle' | 'expired' | 'evicted' | 'refused' | 'revoked_secret' | 'expired_secret';

/**
 * Console sessions, in this process's memory. The id is 32 random bytes; sessions are kept under
 * its SHA-256, so that a lookup's timing says nothing about stored ids. A session ends on sign-out,
 * after `idleMs` without a request, or `lifetimeMs` after sign-in; `onEnd` then revokes its token.
 */
export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();
  private readonly max: number;

  constructor(
    private readonly settings: SessionSettings,
    private readonly now: () => number,
    private readonly onEnd: (session: ConsoleSession, why: SessionEnd) => void,
  ) {
    this.max = settings.max ?? 10_000;
  }

  /** Starts a session; returns the id for the cookie. */
  create(data: Omit<ConsoleSession, 'csrf' | 'createdAt' | 'lastSeenAt' | 'endsAt'>): {
    id: string;
    session: ConsoleSession;
  } {
    const id = crypto.randomBytes(32).toString('base64url');
    const t = this.now();
    const session: ConsoleSession = {
      ...data,
      csrf: crypto.randomBytes(32).toString('base64url'),
      createdAt: t,
      lastSeenAt: t,
      endsAt: Math.min(t + this.settings.lifetimeMs, data.tokenExpiresAt * 1000),
    };
    // Bounded without letting one administrator sign the others out: a client's own oldest session
    // makes room first; when the store is full, one of the client holding the most sessions does.
    const perClient = this.countByClient();
    if ((perClient.get(data.clientId) ?? 0) >= SESSIONS_PER_CLIENT) this.evictOldestOf(data.clientId);
    else if (this.sessions.size >= this.max) {
      this.sweep();
      if (this.sessions.size >= this.max)
        this.evictOldestOf([...this.countByClient()].reduce((a, b) => (b[1] > a[1] ? b : a))[0]);
    }
    this.sessions.set(key(id), session);
    return { id, session };
  }

  /** The live session of this id, its idle time restarted; undefined (and ended) when it has run out. */
  get(id: string | undefined): ConsoleSession | undefined {
    if (!id || id.length > 100) return undefined;
    const k = key(id);
    const session = this.sessions.get(k);
    if (!session) return undefined;
    const t = this.now();
    const why = this.endReason(session, t);
    if (why) {
      this.sessions.delete(k);
      this.onEnd(session, why);
      return undefined;
    }
    session.lastSeenAt = t;
    return session;
  }

  destroy(id: string | undefined, why: SessionEnd = 'signed_out'): void {
    if (!id || id.length > 100) return;
    const k = key(id);
    const session = this.sessions.get(k);
    if (!session) return;
    this.sessions.delete(k);
    this.onEnd(session, why);
  }

  private countByClient(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const session of this.sessions.values()) counts.set(session.clientId, (counts.get(session.clientId) ?? 0) + 1);
    return counts;
  }

  /** Sessions are kept in creation order: the first of the client is its oldest. */
  private evictOldestOf(clientId: string): void {
    for (const [k, session] of this.sessions) {
      if (session.clientId !== clientId) continue;
      this.sessions.delete(k);
      this.onEnd(session, 'evicted');
      return;
    }
  }

  /** Ends every session that has run out (run every minute, so that their tokens are revoked soon). */
  sweep(): void {
    const t = this.now();
    for (const [k, session] of this.sessions) {
      const why = this.endReason(session, t);
      if (!why) continue;
      this.sessions.delete(k);
      this.onEnd(session, why);
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  private endReason(session: ConsoleSession, t: number): SessionEnd | undefined {
    if (t >= session.endsAt) return 'expired';
    if (t - session.lastSeenAt >= this.settings.idleMs) return 'idle';
    return undefined;
  }
}

function key(id: string): string {
  return crypto.createHash('sha256').update(id).digest('base64url');
}

/** Whether a form's token is the session's, compared in constant time. */
export function csrfMatches(session: ConsoleSession, sent: string | undefined): boolean {
  if (typeof sent !== 'string') return false;
  const a = crypto.createHash('sha256').update(session.csrf).digest();
  const b = crypto.createHash('sha256').update(sent).digest();
  return crypto.timingSafeEqual(a, b);
}
