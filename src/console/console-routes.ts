import crypto from 'node:crypto';
import fs from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/audit-log.js';
import type { Client, SecretInfo } from '../clients/model.js';
import { isLive } from '../clients/secret-lifecycle.js';
import type { Config } from '../config.js';
import { ZgwAuthError } from '../errors.js';
import { failureFloor } from '../http/failure-floor.js';
import type { Revocations } from '../tokens/revocations.js';
import { AdminApi, AdminApiProblem, SessionRefusedError } from './admin-api.js';
import { type ConsoleTools, formFieldsOf, formOf } from './console-tools.js';
import { buildStylesheet, type Stylesheet } from './console-stylesheet.js';
import type { ConsoleSessionStore } from '../sessions/console-session-store.js';
import {
  type ConsoleSession,
  ConsoleSessions,
  csrfMatches,
  type EndedSession,
  type SessionEnd,
} from '../sessions/console-sessions.js';
import { html } from './html.js';
import { alert, BASE, isGlobalAdmin, page } from './layout.js';
import { organisationNames } from './organisation-names.js';
import { fill, type Lang, LANGS, messages } from './messages.js';
import { registerActivityPages } from './pages/activity-pages.js';
import { registerAuditPages } from './pages/audit-pages.js';
import { registerClientPages } from './pages/client-pages.js';
import { registerInspectorPages } from './pages/inspector-pages.js';
import { registerKeyPages } from './pages/key-pages.js';
import { registerOrganisationPages } from './pages/organisation-pages.js';
import { signInForm } from './pages/sign-in-page.js';
import { signIn, type SignInDeps } from './sign-in.js';

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: ConsoleSession;
    consoleLang?: Lang;
    /** The name of an organisation administrator's organisation, for the header. */
    consoleOrganisationName?: string;
  }
}

export interface ConsoleOptions {
  config: Pick<
    Config,
    'issuer' | 'consoleIdleTimeout' | 'consoleSessionLifetime' | 'maxTokenLifetime' | 'newClientAuthMethods'
  >;
  signIn: SignInDeps;
  revocations: Pick<Revocations, 'revoke'>;
  audit: Pick<AuditLog, 'record'>;
  /** Where the sessions live: shared by every process on the registry's database. */
  sessions: ConsoleSessionStore;
  now: () => number;
  /** Where the admin API answers in this process (the root server's inject). */
  adminApi: Pick<FastifyInstance, 'inject'>;
}

const SCRIPT_FILE = new URL('./browser/console-script.js', import.meta.url);
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const FORM_LIMIT = 64 * 1024;

/**
 * The web console at /console: server-rendered pages (no front-end framework, working without
 * JavaScript) whose every read and change is a call of the admin API with the session's token. The
 * session lives in the registry's database, read on every request by whichever process takes it;
 * the browser holds an opaque id in an HttpOnly, SameSite=Strict cookie.
 */
export async function consoleRoutes(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const { config, now } = options;
  const secure = config.issuer.startsWith('https:');
  const cookieName = secure ? '__Host-zgw-auth-console' : 'zgw-auth-console';
  const lifetime = Math.min(config.consoleSessionLifetime, config.maxTokenLifetime);
  const issuerOrigin = new URL(config.issuer).origin;
  const sessions = new ConsoleSessions(
    options.sessions,
    { idleMs: config.consoleIdleTimeout * 1000, lifetimeMs: lifetime * 1000 },
    now,
    endSession,
  );
  // Every process sweeps; each run-out session is ended (its token revoked) by the one that took it.
  const sweeper = setInterval(
    () => void sessions.sweep().catch((err: unknown) => app.log.warn({ err }, 'console: sweeping sessions failed')),
    60_000,
  );
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));

  /** An ended session's token is revoked, so that it opens nothing even if it leaked from memory. */
  async function endSession(session: EndedSession, why: SessionEnd): Promise<void> {
    try {
      await options.revocations.revoke(session.jti, session.clientId, session.tokenExpiresAt);
      await options.audit.record({
        actor: session.clientId,
        action: 'token.revoked',
        target: session.clientId,
        organisation: session.rsin,
        details: { jti: session.jti, via: 'console', why },
      });
    } catch (err) {
      app.log.error({ err }, 'console: revoking an ended session token failed');
    }
  }

  // Built when the console is first used, not at start: most processes never serve a console page,
  // and picking the rules and compressing them costs a start about 60 ms of CPU.
  let built: Stylesheet | undefined;
  const stylesheet = () => (built ??= buildStylesheet());
  // Without the source map comment: the map is not served.
  const script = fs.readFileSync(SCRIPT_FILE, 'utf8').replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n');
  const js = `${BASE}/assets/console.js?v=${hashOf(script)}`;
  const assets = {
    get css() {
      return `${BASE}/assets/console.css?v=${stylesheet().hash}`;
    },
    js,
  };

  // Only what the console's forms send: URL-encoded fields (see formFieldsOf). JSON, multipart and
  // any other type is refused with 415, so that no handler ever meets a number, array or object.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: FORM_LIMIT },
    (_request, body, done) => {
      let fields;
      try {
        fields = formFieldsOf(new URLSearchParams(String(body)));
      } catch (err) {
        return done(err as Error);
      }
      done(null, fields);
    },
  );

  app.addHook('onRequest', async (request, reply) => {
    reply.headers({
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    });
    const cookies = parseCookies(request.headers.cookie);
    const asked = (request.query as Record<string, unknown> | undefined)?.lang;
    let lang: Lang = cookies['zgw-auth-lang'] === 'en' ? 'en' : 'nl';
    if (typeof asked === 'string' && (LANGS as readonly string[]).includes(asked)) {
      lang = asked as Lang;
      reply.header(
        'set-cookie',
        `zgw-auth-lang=${lang}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`,
      );
    }
    request.consoleLang = lang;
    request.consoleSession = await sessions.get(cookies[cookieName]);
  });

  // What the request changed in its session (a notice set for the next page, or shown and so
  // gone; the organisation) is written before the answer leaves: the next request may reach another process.
  app.addHook('onSend', async (request, _reply, payload) => {
    if (request.consoleSession)
      await sessions
        .save(request.consoleSession)
        .catch((err: unknown) => request.log.warn({ err }, 'console: saving the session failed'));
    return payload;
  });

  // Every POST: from this site's own pages (Origin or Fetch Metadata), with the session's form token.
  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST') return;
    const origin = request.headers.origin;
    const site = request.headers['sec-fetch-site'];
    // Under Referrer-Policy no-referrer, Chromium sends `Origin: null` for the site's own forms: Fetch
    // Metadata decides then, and must be there (an older browser's null from a foreign page has none).
    const sameOrigin =
      origin === 'null'
        ? site === 'same-origin'
        : origin !== undefined
          ? origin === issuerOrigin || origin === `${request.protocol}://${request.host}`
          : site === undefined || site === 'same-origin' || site === 'none';
    const isSignIn = request.routeOptions.url === `${BASE}/sign-in`;
    const fields = formOf(request);
    if (!sameOrigin || (!isSignIn && request.consoleSession && !csrfMatches(request.consoleSession, fields.csrf))) {
      request.log.warn({ origin: origin?.slice(0, 100), site }, 'console: form refused (origin or CSRF token)');
      return tools.send(
        reply,
        request,
        tools.ctx(request).m.errorTitle,
        alert('error', tools.ctx(request).m.csrfRefused),
        403,
      );
    }
  });

  const tools: ConsoleTools = {
    ctx: (request) => {
      const lang = request.consoleLang ?? 'nl';
      return {
        lang,
        m: messages(lang),
        session: request.consoleSession,
        organisationName: request.consoleOrganisationName,
        assets,
        path: request.url.split('?')[0]!,
        now: now(),
      };
    },
    api: (request) => {
      const session = request.consoleSession;
      if (!session) throw new SessionRefusedError();
      return new AdminApi(options.adminApi, session.accessToken, request.ip);
    },
    send: (reply, request, title, content, status = 200) =>
      reply
        .code(status)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(page(tools.ctx(request), title, content)),
    redirect: (reply, request, path, flash) => {
      if (flash && request.consoleSession) request.consoleSession.flash = flash;
      return reply.code(303).header('cache-control', 'no-store').redirect(path, 303);
    },
  };

  const requireSession = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.consoleSession)
      return reply.code(303).header('cache-control', 'no-store').redirect(`${BASE}/sign-in`, 303);
    await followRegistry(request, request.consoleSession);
  };

  /**
   * The administrator's client as the registry has it now, read through the admin API on every
   * request: pages show and prefill the organisation it is in now, not the one it signed in with. A
   * client disabled or deleted (401), or no longer holding the scope of the session's token (403),
   * ends the session; so does the secret it signed in with, once revoked or expired (as /token refuses it).
   */
  async function followRegistry(request: FastifyRequest, session: ConsoleSession): Promise<void> {
    const path = `/clients/${encodeURIComponent(session.clientId)}`;
    let client: Client;
    let secrets: SecretInfo[];
    try {
      [client, secrets] = await Promise.all([
        tools.api(request).call<Client>('GET', path),
        tools.api(request).call<SecretInfo[]>('GET', `${path}/secrets`),
      ]);
    } catch (err) {
      if (err instanceof AdminApiProblem && (err.status === 403 || err.status === 404)) throw new SessionRefusedError();
      throw err;
    }
    const secret = secrets.find((s) => s.secretId === session.secretId);
    if (!secret || secret.revokedAt !== null) throw new SessionRefusedError('revoked_secret');
    if (!isLive(secret, now())) throw new SessionRefusedError('expired_secret');
    session.rsin = client.rsin;
  }

  app.setErrorHandler(async (err, request, reply) => {
    const m = tools.ctx(request).m;
    if (err instanceof SessionRefusedError) {
      try {
        await sessions.destroy(parseCookies(request.headers.cookie)[cookieName], err.why);
      } catch (destroyErr) {
        // The database went away between the refusal and the end of the session: the session is
        // refused again at its next request, which then ends it. Now: try again, not a 500.
        request.log.warn({ err: destroyErr }, 'console: a refused session could not be ended now');
        const after = destroyErr instanceof ZgwAuthError ? destroyErr.headers['retry-after'] : undefined;
        reply.header('retry-after', after ?? '1');
        return tools.send(reply, request, m.errorTitle, alert('error', m.unavailable), 503);
      }
      reply.header('set-cookie', clearCookie(cookieName, secure));
      return tools.send(
        reply,
        request,
        m.signInTitle,
        html`${alert('info', m.sessionEnded)}${signInForm(tools.ctx(request), '')}`,
        401,
      );
    }
    if (err instanceof AdminApiProblem) {
      if (err.status === 404)
        return tools.send(reply, request, m.notFoundTitle, html`<p class="utrecht-paragraph">${m.notFound}</p>`, 404);
      if (err.status === 403) return tools.send(reply, request, m.errorTitle, alert('error', m.forbidden), 403);
      if (err.status >= 500) return tools.send(reply, request, m.errorTitle, alert('error', m.unavailable), 503);
      return tools.send(reply, request, m.errorTitle, alert('error', m.requestRefused), err.status);
    }
    // The database away (reading the session, say): try again, not an error page of ours.
    if (err instanceof ZgwAuthError && err.status >= 500) {
      request.log.warn({ err }, 'console: storage unavailable');
      reply.header('retry-after', err.headers['retry-after'] ?? '1');
      return tools.send(reply, request, m.errorTitle, alert('error', m.unavailable), 503);
    }
    // A refused body (its type, a field sent twice, a value too long) and Fastify's own refusals.
    const status = err instanceof ZgwAuthError ? err.status : (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500)
      return tools.send(reply, request, m.errorTitle, alert('error', m.errorTitle), status);
    request.log.error({ err }, 'console request failed');
    return tools.send(reply, request, m.errorTitle, alert('error', m.unavailable), 500);
  });

  app.setNotFoundHandler(async (request, reply) => {
    const m = tools.ctx(request).m;
    return tools.send(reply, request, m.notFoundTitle, html`<p class="utrecht-paragraph">${m.notFound}</p>`, 404);
  });

  app.get('/assets/console.css', async (request, reply) => {
    reply
      .headers({ 'cache-control': 'public, max-age=86400', vary: 'accept-encoding' })
      .type('text/css; charset=utf-8');
    return /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))
      ? reply.header('content-encoding', 'gzip').send(stylesheet().gzipped)
      : reply.send(stylesheet().css);
  });
  app.get('/assets/console.js', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=86400').type('text/javascript; charset=utf-8').send(script),
  );

  app.get('/', async (request, reply) =>
    reply
      .code(303)
      .header('cache-control', 'no-store')
      .redirect(request.consoleSession ? `${BASE}/clients` : `${BASE}/sign-in`, 303),
  );

  app.get('/sign-in', async (request, reply) => {
    if (request.consoleSession) return reply.code(303).redirect(`${BASE}/clients`, 303);
    const ctx = tools.ctx(request);
    const signedOut = (request.query as Record<string, unknown>).signedOut !== undefined;
    return tools.send(
      reply,
      request,
      ctx.m.signInTitle,
      html`${signedOut ? alert('ok', ctx.m.signedOut) : ''}${signInForm(ctx, '')}`,
    );
  });

  app.post('/sign-in', async (request, reply) => {
    const ctx = tools.ctx(request);
    const m = ctx.m;
    const fields = formOf(request);
    const clientId = fields.client_id ?? '';
    const secret = fields.client_secret ?? '';
    // Every refusal waits out the floor of /token's: the timing tells no unknown id from a wrong secret.
    const refuse = async (text: string, status: number) => {
      await failureFloor(reply);
      return tools.send(
        reply,
        request,
        m.signInTitle,
        html`${alert('error', text)}${signInForm(ctx, clientId.slice(0, 50))}`,
        status,
      );
    };
    if (!clientId || !secret || clientId.length > 1024 || secret.length > 1024) return refuse(m.signInMissing, 400);
    let signedIn;
    try {
      signedIn = await signIn(options.signIn, { clientId, secret }, request.ip, lifetime, Math.floor(now() / 1000));
    } catch (err) {
      if (!(err instanceof ZgwAuthError) || err.status >= 500) throw err;
      if (err.status === 429) {
        reply.header('retry-after', err.headers['retry-after'] ?? '1');
        return refuse(fill(m.signInBackoff, { s: err.headers['retry-after'] ?? '1' }), 429);
      }
      // The secret proved right, but the client may not sign in here (no administrator scope, no client_credentials grant).
      if (err.code === 'unauthorized_client') return refuse(m.notAdmin, 403);
      return refuse(m.signInFailed, 401);
    }
    // A new id at every sign-in: an id planted before it opens nothing.
    await sessions.destroy(parseCookies(request.headers.cookie)[cookieName]);
    const { id } = await sessions.create({
      clientId: signedIn.client.clientId,
      rsin: signedIn.client.rsin,
      scope: signedIn.scope,
      accessToken: signedIn.accessToken,
      jti: signedIn.jti,
      secretId: signedIn.secretId,
      tokenExpiresAt: signedIn.expiresAt,
    });
    reply.header('set-cookie', `${cookieName}=${id}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`);
    return reply.code(303).header('cache-control', 'no-store').redirect(`${BASE}/clients`, 303);
  });

  app.post('/sign-out', async (request, reply) => {
    await sessions.destroy(parseCookies(request.headers.cookie)[cookieName]);
    reply.header('set-cookie', clearCookie(cookieName, secure));
    return reply.code(303).header('cache-control', 'no-store').redirect(`${BASE}/sign-in?signedOut`, 303);
  });

  // Everything below needs a session.
  await app.register(async (pages) => {
    pages.addHook('preHandler', requireSession);
    pages.addHook('preHandler', async (request) => {
      const session = request.consoleSession;
      if (session && !isGlobalAdmin(session))
        request.consoleOrganisationName = (await organisationNames(tools.api(request), [session.rsin])).get(
          session.rsin,
        );
    });
    registerClientPages(pages, tools, { newClientMethods: config.newClientAuthMethods });
    registerAuditPages(pages, tools);
    registerKeyPages(pages, tools);
    registerInspectorPages(pages, tools);
    registerActivityPages(pages, tools);
    registerOrganisationPages(pages, tools);
  });
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header || header.length > 8192) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

function clearCookie(name: string, secure: boolean): string {
  return `${name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

function hashOf(text: string): string {
  return crypto.createHash('sha256').update(text).digest('base64url').slice(0, 12);
}
