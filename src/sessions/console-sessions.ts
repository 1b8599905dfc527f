import type { ConsoleSessionStore, StoredConsoleSession } from './console-session-store.js';
import {
  csrfTokenMatches,
  csrfTokenOf,
  MAX_SESSION_ID_LENGTH,
  newSessionId,
  openForSession,
  sealForSession,
  sessionIdHash,
} from './session-secrets.js';
import { TakingTurns } from './taking-turns.js';

/** A signed-in administrator's session, as one request sees it; the browser holds only the session id. */
export interface ConsoleSession {
  clientId: string;
  /** The administrator client's organisation, as the registry had it at the latest request (read on every one). */
  rsin: string;
  /** The admin scope the session's token holds: global (zgw-auth:admin) or one organisation's. */
  scope: string;
  /** The access token for the admin API: never sent to the browser, stored only sealed. */
  accessToken: string;
  jti: string;
  /** The secret the administrator signed in with: the session ends when it is revoked or expires. */
  secretId: string;
  /** Epoch seconds at which the access token expires. */
  tokenExpiresAt: number;
  /** Sent in every form and compared on every POST; derived from the session id, never stored. */
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
  /** Epoch ms of the absolute end, whatever the activity. */
  endsAt: number;
  /** A one-time notice for the next page (Post/Redirect/Get). */
  flash?: { kind: 'ok' | 'error'; text: string };
}

/** What is known of a session when it ends (its token's id, not the token). */
export type EndedSession = Pick<ConsoleSession, 'clientId' | 'rsin' | 'jti' | 'tokenExpiresAt'>;

export interface SessionSettings {
  idleMs: number;
  lifetimeMs: number;
  /** Beyond this many sessions one ends (see create): the store stays bounded whatever sign-ins cost. */
  max?: number;
}

/** Sessions one administrator client may hold at once; its oldest ends beyond this. */
export const SESSIONS_PER_CLIENT = 10;
/** Run-out sessions ended per statement, and statements per sweep: bounded work whatever piled up. */
export const SWEEP_BATCH = 200;
export const SWEEP_ROUNDS = 50;
/**
 * A sweep ends a session only this long after it ran out, and never by a clock ahead of the
 * database's: a process whose clock runs ahead does not end the sessions that the others still
 * serve, nor does a sweep end early one last seen by a process whose clock is behind (by up to this).
 * A request for a session that ran out still ends it at once, in whichever process takes it.
 */
export const SWEEP_MARGIN_MS = 120_000;
/**
 * A sign-in's serialized step waits at most this long for its turn in this process (TakingTurns),
 * then is refused with 503: about as long as PostgreSQL waits for the sign-in lock (lock_timeout).
 */
export const SIGN_IN_TURN_MS = 3000;

/**
 * `refused`: the admin API no longer takes the session's token (client disabled, deleted or without
 * the scope); `revoked_secret`, `expired_secret`: the secret the session signed in with no longer opens /token.
 */
export type SessionEnd =
  'signed_out' | 'idle' | 'expired' | 'evicted' | 'refused' | 'revoked_secret' | 'expired_secret';

interface Loaded {
  id: string;
  idHash: string;
  rsin: string;
  /** The notice as stored; `unreadable` for one that did not open (dropped at the next save). */
  flash: ConsoleSession['flash'] | 'unreadable';
}

/**
 * Console sessions in a shared store: any process serves any session, a sign-out in one is seen
 * by every other at its next request (the store is read on every request, nothing is cached), and
 * a restart signs nobody out. The id is 32 random bytes; see session-secrets.ts for what is kept
 * of it. A session ends on sign-out, after `idleMs` without a request, or `lifetimeMs` after
 * sign-in; `onEnd` then revokes its token, in the one process that ended it.
 */
export class ConsoleSessions {
  private readonly max: number;
  private readonly loaded = new WeakMap<ConsoleSession, Loaded>();
  /**
   * This process's sign-ins reach the store's serialized step one at a time, clients taking turns:
   * racing sign-ins do not each hold a database connection while they wait for the lock (starving
   * every other request of the pool), and a client flooding sign-ins delays another's by one of its own.
   */
  private readonly signIns = new TakingTurns(SIGN_IN_TURN_MS);

  constructor(
    private readonly store: ConsoleSessionStore,
    private readonly settings: SessionSettings,
    private readonly now: () => number,
    private readonly onEnd: (session: EndedSession, why: SessionEnd) => void | Promise<void>,
  ) {
    this.max = settings.max ?? 10_000;
  }

  /** Starts a session; returns the id for the cookie. */
  async create(
    data: Omit<ConsoleSession, 'csrf' | 'createdAt' | 'lastSeenAt' | 'endsAt' | 'flash'>,
  ): Promise<{ id: string; session: ConsoleSession }> {
    const id = newSessionId();
    const idHash = sessionIdHash(id);
    const t = this.now();
    const session: ConsoleSession = {
      ...data,
      csrf: csrfTokenOf(id),
      createdAt: t,
      lastSeenAt: t,
      endsAt: Math.min(t + this.settings.lifetimeMs, data.tokenExpiresAt * 1000),
    };
    const row: StoredConsoleSession = {
      idHash,
      clientId: session.clientId,
      rsin: session.rsin,
      scope: session.scope,
      jti: session.jti,
      secretId: session.secretId,
      tokenExpiresAt: session.tokenExpiresAt,
      tokenSealed: sealForSession(id, 'token', session.accessToken),
      flashSealed: null,
      createdAt: t,
      lastSeenAt: t,
      endsAt: session.endsAt,
    };
    // Bounded without letting one administrator sign the others out: a client's own oldest session
    // makes room first; when the store is full, run-out sessions do, then one of the client holding
    // the most sessions. Counted and inserted as one step that no other sign-in (of any process)
    // runs beside, or racing sign-ins would each find room for themselves; this process's sign-ins
    // take turns for it by client (signIns). The ended sessions' tokens are revoked after that step,
    // outside it.
    const ends = await this.signIns.run(data.clientId, () =>
      this.store.serialized(async (store) => {
        const ends: [StoredConsoleSession, SessionEnd][] = [];
        const evicted = (rows: StoredConsoleSession[]) =>
          ends.push(...rows.map((r): [StoredConsoleSession, SessionEnd] => [r, 'evicted']));
        evicted(await store.takeBeyond(data.clientId, SESSIONS_PER_CLIENT - 1));
        if ((await store.count()) >= this.max) {
          const before = await this.sweepBefore(store);
          for (const r of await store.takeExpired(before, this.settings.idleMs, SWEEP_BATCH))
            ends.push([r, this.endReason(r, before) ?? 'expired']);
          for (let round = 0; round < SWEEP_ROUNDS && (await store.count()) >= this.max; round++) {
            const busiest = await store.busiestClient();
            if (!busiest) break;
            evicted(await store.takeBeyond(busiest.clientId, busiest.sessions - 1));
          }
        }
        await store.insert(row);
        return ends;
      }),
    );
    for (const [r, why] of ends) await this.onEnd(endedOf(r), why);
    this.loaded.set(session, { id, idHash, rsin: session.rsin, flash: undefined });
    return { id, session };
  }

  /** The live session of this id, its idle time restarted; undefined (and ended) when it has run out. */
  async get(id: string | undefined): Promise<ConsoleSession | undefined> {
    if (!id || id.length > MAX_SESSION_ID_LENGTH) return undefined;
    const idHash = sessionIdHash(id);
    const row = await this.store.get(idHash);
    if (!row) return undefined;
    const t = this.now();
    const why = this.endReason(row, t);
    if (why) {
      await this.end(idHash, why);
      return undefined;
    }
    const accessToken = openForSession(id, 'token', row.tokenSealed);
    // Only this id's key opens it: a row that does not open is no session of this id's.
    if (accessToken === undefined) {
      await this.end(idHash, 'refused');
      return undefined;
    }
    // Ended by another process since it was read (signed out there): not served.
    if (!(await this.store.touch(idHash, t))) return undefined;
    const flashText = row.flashSealed === null ? undefined : openForSession(id, 'flash', row.flashSealed);
    const flash = flashText === undefined ? undefined : parseFlash(flashText);
    const session: ConsoleSession = {
      clientId: row.clientId,
      rsin: row.rsin,
      scope: row.scope,
      accessToken,
      jti: row.jti,
      secretId: row.secretId,
      tokenExpiresAt: row.tokenExpiresAt,
      csrf: csrfTokenOf(id),
      createdAt: row.createdAt,
      lastSeenAt: Math.max(row.lastSeenAt, t),
      endsAt: row.endsAt,
      ...(flash ? { flash } : {}),
    };
    this.loaded.set(session, {
      id,
      idHash,
      rsin: row.rsin,
      flash: row.flashSealed !== null && !flash ? 'unreadable' : flash && { ...flash },
    });
    return session;
  }

  /** Writes what a request changed in its session (its organisation, its notice), where another process reads it. */
  async save(session: ConsoleSession): Promise<void> {
    const loaded = this.loaded.get(session);
    if (!loaded) return;
    const changes: { rsin?: string; flashSealed?: string | null } = {};
    if (session.rsin !== loaded.rsin) changes.rsin = session.rsin;
    if (!sameFlash(session.flash, loaded.flash))
      changes.flashSealed = session.flash ? sealForSession(loaded.id, 'flash', JSON.stringify(session.flash)) : null;
    if (changes.rsin === undefined && changes.flashSealed === undefined) return;
    await this.store.update(loaded.idHash, changes);
    loaded.rsin = session.rsin;
    loaded.flash = session.flash && { ...session.flash };
  }

  async destroy(id: string | undefined, why: SessionEnd = 'signed_out'): Promise<void> {
    if (!id || id.length > MAX_SESSION_ID_LENGTH) return;
    await this.end(sessionIdHash(id), why);
  }

  /**
   * Ends every session that has run out (run every minute, so that their tokens are revoked soon),
   * in bounded batches; by the database's clock when this process's runs ahead (SWEEP_MARGIN_MS).
   */
  async sweep(): Promise<void> {
    const t = await this.sweepBefore(this.store);
    for (let round = 0; round < SWEEP_ROUNDS; round++) {
      const rows = await this.store.takeExpired(t, this.settings.idleMs, SWEEP_BATCH);
      for (const row of rows) await this.onEnd(endedOf(row), this.endReason(row, t) ?? 'expired');
      if (rows.length < SWEEP_BATCH) return;
    }
  }

  size(): Promise<number> {
    return this.store.count();
  }

  /** The time a sweep ends sessions by: this process's clock, never ahead of the database's, less the margin. */
  private async sweepBefore(store: ConsoleSessionStore): Promise<number> {
    return Math.min(this.now(), await store.databaseNow()) - SWEEP_MARGIN_MS;
  }

  private async end(idHash: string, why: SessionEnd): Promise<void> {
    const row = await this.store.take(idHash);
    // Another process took it first: it revokes the token.
    if (row) await this.onEnd(endedOf(row), why);
  }

  private endReason(session: Pick<StoredConsoleSession, 'endsAt' | 'lastSeenAt'>, t: number): SessionEnd | undefined {
    if (t >= session.endsAt) return 'expired';
    if (t - session.lastSeenAt >= this.settings.idleMs) return 'idle';
    return undefined;
  }
}

function endedOf(row: StoredConsoleSession): EndedSession {
  return { clientId: row.clientId, rsin: row.rsin, jti: row.jti, tokenExpiresAt: row.tokenExpiresAt };
}

function parseFlash(text: string): ConsoleSession['flash'] {
  try {
    const v = JSON.parse(text) as { kind?: unknown; text?: unknown };
    if ((v.kind === 'ok' || v.kind === 'error') && typeof v.text === 'string') return { kind: v.kind, text: v.text };
  } catch {
    // not a notice of this server's
  }
  return undefined;
}

function sameFlash(a: ConsoleSession['flash'], b: Loaded['flash']): boolean {
  if (b === 'unreadable') return false;
  return a === b || (a !== undefined && b !== undefined && a.kind === b.kind && a.text === b.text);
}

/** Whether a form's token is the session's, compared in constant time. */
export function csrfMatches(session: Pick<ConsoleSession, 'csrf'>, sent: string | undefined): boolean {
  return csrfTokenMatches(session.csrf, sent);
}
