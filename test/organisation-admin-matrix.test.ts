import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ADMIN_SCOPE, ORG_ADMIN_SCOPE } from '../src/clients/model.js';
import type { Database } from '../src/storage/schema.js';
import {
  forEachDialect,
  hs256,
  type HttpResult,
  request,
  routesOf,
  startTestServer,
  type TestServer,
} from './helpers.js';

/**
 * Every admin route × the organisation it concerns (the organisation administrator's own, another,
 * unknown) × the caller (global administrator, organisation administrator, ordinary client): the
 * status, and that the database did not change where the answer says nothing happened. The routes
 * are read from the server, so a route added without an entry here fails the test.
 */

// RSINs passing the 11-test.
const OWN = '123456782';
const OTHER = '111222333';
// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

type Caller = 'global' | 'organisation' | 'ordinary';
type Target = 'own' | 'other' | 'unknown';
const CALLERS: Caller[] = ['global', 'organisation', 'ordinary'];
const TARGETS: Target[] = ['own', 'other', 'unknown'];

/** What a cell works on: a fresh client of the organisation (none for unknown), and the organisation's RSIN. */
interface Subject {
  rsin: string;
  clientId: string;
  secretId: string;
}

interface Cell {
  caller: Caller;
  target: Target;
  subject: Subject;
  ts: TestServer;
}

interface RouteCase {
  /** The request for this cell. */
  request(cell: Cell): { url: string; body?: unknown };
  /** Prepares the subject before the snapshot (e.g. disables it so that enabling changes it). */
  prepare?(cell: Cell): Promise<void>;
  /** The status each caller gets for each target; ordinary clients get 403 everywhere unless public. */
  expect: Record<Exclude<Caller, 'ordinary'>, Record<Target, number>> | 'public';
  /** Whether a successful answer changes the database. */
  /** Whether a successful request changes the database (per cell where it depends on what the caller may see). */
  writes: boolean | ((c: Cell) => boolean);
  /** More to assert on a successful answer. */
  check?(cell: Cell, res: HttpResult): Promise<void> | void;
}

/** A fresh public EC JWK under `kid`. */
const publicJwk = (kid: string) => ({
  ...crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
  kid,
});

const SEE = { own: 200, other: 200, unknown: 404 };
const OWN_ONLY = { own: 200, other: 404, unknown: 404 };
const EVERYWHERE = { own: 200, other: 200, unknown: 200 };
const PLATFORM = { own: 403, other: 403, unknown: 403 };
/** A platform route an organisation administrator may read for its own organisation only (insufficient_scope for any other). */
const PLATFORM_OWN_READ = { own: 200, other: 403, unknown: 403 };

/** Statuses with one code for success instead of 200. */
const as = (status: number, base: Record<Target, number>) =>
  Object.fromEntries(TARGETS.map((t) => [t, base[t] === 200 ? status : base[t]])) as Record<Target, number>;

/** A valid RSIN no organisation has: eight random digits and the check digit the 11-test asks for. */
function freshRsin(): string {
  for (;;) {
    const digits = Array.from({ length: 8 }, () => Math.floor(Math.random() * 10));
    const check = digits.reduce((sum, d, i) => sum + (9 - i) * d, 0) % 11;
    if (check < 10) return digits.join('') + String(check);
  }
}

const clientUrl = (c: Cell) => `/admin/clients/${c.subject.clientId}`;

const ROUTES: Record<string, RouteCase> = {
  // ---- documentation: public ---------------------------------------------------------------
  'GET /admin/openapi.json': { request: () => ({ url: '/admin/openapi.json' }), expect: 'public', writes: false },
  'GET /admin/docs': { request: () => ({ url: '/admin/docs' }), expect: 'public', writes: false },
  'GET /admin/docs/': { request: () => ({ url: '/admin/docs/' }), expect: 'public', writes: false },
  'GET /admin/docs/static/index.html': {
    request: () => ({ url: '/admin/docs/static/index.html' }),
    expect: 'public',
    writes: false,
  },
  'GET /admin/docs/static/swagger-initializer.js': {
    request: () => ({ url: '/admin/docs/static/swagger-initializer.js' }),
    expect: 'public',
    writes: false,
  },
  'GET /admin/docs/*': {
    request: () => ({ url: '/admin/docs/static/swagger-ui.css' }),
    expect: 'public',
    writes: false,
  },
  'GET /admin/docs/json': { request: () => ({ url: '/admin/docs/json' }), expect: 'public', writes: false },
  'GET /admin/docs/yaml': { request: () => ({ url: '/admin/docs/yaml' }), expect: 'public', writes: false },

  // ---- the platform's: global administrators only ------------------------------------------
  'GET /admin/organisations': {
    request: (c) => ({ url: `/admin/organisations?q=${c.subject.rsin}` }),
    expect: { global: EVERYWHERE, organisation: PLATFORM },
    writes: false,
    check: (c, res) => assert.equal(res.json.total, c.target === 'unknown' ? 0 : 1),
  },
  'POST /admin/organisations': {
    request: (c) => ({ url: '/admin/organisations', body: { rsin: c.subject.rsin, name: 'New' } }),
    expect: { global: { own: 409, other: 409, unknown: 201 }, organisation: PLATFORM },
    writes: true,
  },
  'GET /admin/organisations/:rsin': {
    request: (c) => ({ url: `/admin/organisations/${c.subject.rsin}` }),
    // An organisation administrator reads its own organisation (the console shows its name).
    expect: { global: SEE, organisation: PLATFORM_OWN_READ },
    writes: false,
    check: (c, res) => assert.equal(res.json.rsin, c.subject.rsin),
  },
  'PATCH /admin/organisations/:rsin': {
    request: (c) => ({ url: `/admin/organisations/${c.subject.rsin}`, body: { name: `Renamed ${Math.random()}` } }),
    expect: { global: SEE, organisation: PLATFORM },
    writes: true,
  },
  'POST /admin/organisations/:rsin/disable': {
    request: (c) => ({ url: `/admin/organisations/${c.subject.rsin}/disable` }),
    expect: { global: SEE, organisation: PLATFORM },
    writes: true,
  },
  'POST /admin/organisations/:rsin/enable': {
    // Disabled first so that enabling changes something; not the caller's own, which would lock it out.
    prepare: async (c) => {
      if (c.target !== 'unknown' && c.caller === 'global')
        await c.ts.app.organisations.disable(c.subject.rsin, { id: 'test' });
    },
    request: (c) => ({ url: `/admin/organisations/${c.subject.rsin}/enable` }),
    expect: { global: SEE, organisation: PLATFORM },
    writes: true,
  },
  // ---- activity and the token inspector: an organisation administrator's own only -----------
  'GET /admin/activity': {
    request: (c) => ({ url: `/admin/activity?rsin=${c.subject.rsin}` }),
    expect: { global: EVERYWHERE, organisation: EVERYWHERE },
    writes: false,
    // Another organisation's activity is an empty report for an organisation administrator.
    check: (c, res) =>
      assert.ok((res.json.organisations as { rsin: string }[]).every((o) => c.caller === 'global' || o.rsin === OWN)),
  },
  'POST /admin/tokens/inspect': {
    request: (c) => ({
      url: '/admin/tokens/inspect',
      body: { token: hs256({ client_id: c.subject.clientId, iat: Math.floor(Date.now() / 1000) }, 'not-the-secret') },
    }),
    expect: { global: EVERYWHERE, organisation: EVERYWHERE },
    // A refused self-signed token that was verified is a failed guess at a secret, audited; an
    // organisation administrator's token naming no client of its own is not looked at.
    writes: (c) => c.caller === 'global' || c.target === 'own',
    check: (c, res) => {
      const hidden = c.target === 'unknown' || (c.caller === 'organisation' && c.target === 'other');
      const code = (res.json.verdict as { code?: string }).code;
      // A visible client's token is judged on its merits (these clients may not self-sign); a hidden one's is not looked at.
      if (hidden) assert.equal(code, 'unknown_client');
      else assert.equal(code, 'self_signed_not_allowed');
    },
  },
  'GET /admin/keys': {
    request: () => ({ url: '/admin/keys' }),
    expect: { global: EVERYWHERE, organisation: PLATFORM },
    writes: false,
  },
  'POST /admin/keys/rotate': {
    request: () => ({ url: '/admin/keys/rotate', body: { publishDelay: 0 } }),
    expect: { global: EVERYWHERE, organisation: PLATFORM },
    writes: true,
  },

  // ---- clients: an organisation administrator's own only -----------------------------------
  'GET /admin/clients': {
    // Own: no filter, the caller's whole view; other and unknown: filtered by that RSIN.
    request: (c) => ({
      url: c.target === 'own' ? '/admin/clients?limit=1000' : `/admin/clients?limit=1000&rsin=${c.subject.rsin}`,
    }),
    expect: { global: EVERYWHERE, organisation: EVERYWHERE },
    writes: false,
    check: async (c, res) => {
      const rsins = res.json.items.map((i: { rsin: string }) => i.rsin) as string[];
      const all = await c.ts.app.clients.list({ limit: 1000, offset: 0 });
      const sees = (rsin: string) => c.caller === 'global' || rsin === OWN;
      const expected = all.items.filter((i) => sees(i.rsin) && (c.target === 'own' || i.rsin === c.subject.rsin));
      assert.deepEqual(rsins.sort(), expected.map((i) => i.rsin).sort());
      assert.equal(res.json.total, expected.length, 'the count leaves out what the caller does not see');
      if (c.caller === 'organisation') assert.ok(rsins.every((r) => r === OWN));
      if (c.target !== 'unknown' && (c.caller === 'global' || c.target === 'own')) assert.ok(rsins.length > 0);
    },
  },
  'POST /admin/clients': {
    request: (c) => ({ url: '/admin/clients', body: { rsin: c.subject.rsin, allowedScopes: ['zaken.lezen'] } }),
    expect: { global: as(201, EVERYWHERE), organisation: { own: 201, other: 403, unknown: 403 } },
    writes: true,
    check: async (c, res) => {
      assert.equal(res.json.client.rsin, c.subject.rsin);
      // A client of an RSIN without an organisation registers it.
      assert.equal((await c.ts.app.organisations.get(c.subject.rsin)).rsin, c.subject.rsin);
    },
  },
  'GET /admin/clients/:clientId': {
    request: (c) => ({ url: clientUrl(c) }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: false,
    check: (c, res) => assert.equal(res.json.clientId, c.subject.clientId),
  },
  'PATCH /admin/clients/:clientId': {
    request: (c) => ({ url: clientUrl(c), body: { name: 'Renamed' } }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: true,
  },
  'POST /admin/clients/:clientId/enable': {
    prepare: async (c) => {
      if (c.target !== 'unknown') await c.ts.app.clients.update(c.subject.clientId, { enabled: false }, { id: 'test' });
    },
    request: (c) => ({ url: `${clientUrl(c)}/enable` }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: true,
  },
  'POST /admin/clients/:clientId/disable': {
    request: (c) => ({ url: `${clientUrl(c)}/disable` }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: true,
  },
  'DELETE /admin/clients/:clientId': {
    request: (c) => ({ url: clientUrl(c) }),
    expect: { global: as(204, SEE), organisation: as(204, OWN_ONLY) },
    writes: true,
  },
  'GET /admin/clients/:clientId/secrets': {
    request: (c) => ({ url: `${clientUrl(c)}/secrets` }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: false,
    check: (c, res) =>
      assert.deepEqual(
        res.json.map((s: { secretId: string }) => s.secretId),
        [c.subject.secretId],
      ),
  },
  'POST /admin/clients/:clientId/secrets': {
    request: (c) => ({ url: `${clientUrl(c)}/secrets`, body: { label: 'added' } }),
    expect: { global: as(201, SEE), organisation: as(201, OWN_ONLY) },
    writes: true,
  },
  'DELETE /admin/clients/:clientId/secrets/:secretId': {
    request: (c) => ({ url: `${clientUrl(c)}/secrets/${c.subject.secretId}` }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: true,
  },

  'GET /admin/clients/:clientId/keys': {
    request: (c) => ({ url: `${clientUrl(c)}/keys` }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: false,
  },
  'POST /admin/clients/:clientId/keys': {
    request: (c) => ({ url: `${clientUrl(c)}/keys`, body: { jwk: publicJwk('added') } }),
    expect: { global: as(201, SEE), organisation: as(201, OWN_ONLY) },
    writes: true,
  },
  'DELETE /admin/clients/:clientId/keys/:kid': {
    prepare: async (c) => {
      if (c.target !== 'unknown')
        await c.ts.app.clients.addKeys(c.subject.clientId, JSON.stringify(publicJwk('gone')), { id: 'test' });
    },
    request: (c) => ({ url: `${clientUrl(c)}/keys/gone` }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: true,
  },

  // ---- a client's rights in the ZGW APIs (its applicatie): scoped as the client ----------------
  'GET /admin/clients/:clientId/applicatie': {
    prepare: async (c) => {
      if (c.target !== 'unknown')
        await c.ts.app.autorisaties.create(
          {
            clientIds: [c.subject.clientId],
            label: 'matrix',
            autorisaties: [{ component: 'ztc', scopes: ['catalogi.lezen'] }],
          },
          { id: 'test', rsin: c.subject.rsin, everyOrganisation: true },
        );
    },
    request: (c) => ({ url: `${clientUrl(c)}/applicatie` }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: false,
    check: (c, res) => assert.deepEqual(res.json.clientIds, [c.subject.clientId]),
  },
  'PUT /admin/clients/:clientId/applicatie': {
    request: (c) => ({
      url: `${clientUrl(c)}/applicatie`,
      body: { heeftAlleAutorisaties: false, autorisaties: [{ component: 'ztc', scopes: ['catalogi.lezen'] }] },
    }),
    expect: { global: SEE, organisation: OWN_ONLY },
    writes: true,
  },

  // ---- audit trail: an organisation administrator's own events only -------------------------
  'GET /admin/credentials/expiring': {
    // Own: the caller's whole view; other and unknown: narrowed to that RSIN. No certificate here
    // expires soon: the scoping of what is listed is tested in credential-expiry.test.ts.
    request: (c) => ({
      url:
        c.target === 'own'
          ? '/admin/credentials/expiring'
          : `/admin/credentials/expiring?organisation=${c.subject.rsin}`,
    }),
    expect: { global: EVERYWHERE, organisation: EVERYWHERE },
    writes: false,
    check: (_c, res) => assert.deepEqual(res.json.items, []),
  },
  'GET /admin/expiring': {
    // As above, the furthest look ahead: nothing here expires at all.
    request: (c) => ({
      url:
        c.target === 'own'
          ? '/admin/expiring?within_days=366'
          : `/admin/expiring?within_days=366&organisation=${c.subject.rsin}`,
    }),
    expect: { global: EVERYWHERE, organisation: EVERYWHERE },
    writes: false,
    check: (_c, res) => assert.deepEqual([res.json.withinDays, res.json.items], [366, []]),
  },
  'GET /admin/audit': {
    request: (c) => ({
      url: c.target === 'own' ? '/admin/audit?limit=1000' : `/admin/audit?limit=1000&organisation=${c.subject.rsin}`,
    }),
    expect: { global: EVERYWHERE, organisation: EVERYWHERE },
    writes: false,
    check: (c, res) => {
      const organisations = new Set(res.json.items.map((e: { organisation: string | null }) => e.organisation));
      const targets = res.json.items.map((e: { target: string }) => e.target) as string[];
      if (c.caller === 'organisation') assert.deepEqual([...organisations], c.target === 'own' ? [OWN] : []);
      else if (c.target !== 'own') assert.deepEqual([...organisations], c.target === 'other' ? [OTHER] : []);
      else
        assert.ok(
          organisations.has(null) && organisations.has(OWN) && organisations.has(OTHER),
          'a global administrator sees every event',
        );
      // The fresh client of the cell's organisation was audited when it was created.
      if (c.target !== 'unknown' && (c.caller === 'global' || c.target === 'own'))
        assert.ok(targets.includes(c.subject.clientId));
    },
  },
};

type Snapshot = Record<keyof Database, unknown[]>;

const writesFor = (rc: RouteCase, c: Cell) => (typeof rc.writes === 'function' ? rc.writes(c) : rc.writes);

async function snapshot(ts: TestServer): Promise<Snapshot> {
  await ts.app.audit.flush(true);
  await ts.app.usage.flush();
  const db = ts.app.storage.db;
  return {
    organisations: await db.selectFrom('organisations').selectAll().orderBy('rsin').execute(),
    clients: await db.selectFrom('clients').selectAll().orderBy('client_id').execute(),
    client_secrets: await db.selectFrom('client_secrets').selectAll().orderBy('secret_id').execute(),
    client_keys: await db.selectFrom('client_keys').selectAll().orderBy('client_id').orderBy('kid').execute(),
    used_once: await db.selectFrom('used_once').selectAll().orderBy('namespace').orderBy('id_hash').execute(),
    signing_keys: await db.selectFrom('signing_keys').selectAll().orderBy('kid').execute(),
    revoked_tokens: await db.selectFrom('revoked_tokens').selectAll().orderBy('jti').execute(),
    audit_events: await db.selectFrom('audit_events').selectAll().orderBy('id').execute(),
    audit_hourly_counts: await db
      .selectFrom('audit_hourly_counts')
      .selectAll()
      .orderBy('hour')
      .orderBy('organisation')
      .orderBy('client_id')
      .orderBy('action')
      .execute(),
    applicaties: await db.selectFrom('applicaties').selectAll().orderBy('uuid').execute(),
    notification_outbox: await db.selectFrom('notification_outbox').selectAll().orderBy('id').execute(),
    audit_sinks: await db.selectFrom('audit_sinks').selectAll().orderBy('name').execute(),
    applicatie_clients: await db.selectFrom('applicatie_clients').selectAll().orderBy('client_id').execute(),
    console_sessions: await db.selectFrom('console_sessions').selectAll().orderBy('id_hash').execute(),
  };
}

forEachDialect((dialect) => {
  describe(`organisation administration matrix (${dialect})`, () => {
    let ts: TestServer;
    const tokens = {} as Record<Caller, string>;
    let counter = 0;

    before(async () => {
      ts = await startTestServer({ dialect, env: FAST_KEYS });
      await ts.app.organisations.create({ rsin: OWN, name: 'Gemeente Eigen' }, { id: 'test' });
      await ts.app.organisations.create({ rsin: OTHER, name: 'Gemeente Ander' }, { id: 'test' });
      const orgAdmin = await ts.createClient({ clientId: 'org-admin', rsin: OWN, allowedScopes: [ORG_ADMIN_SCOPE] });
      const ordinary = await ts.createClient({ clientId: 'ordinary', rsin: OWN, allowedScopes: ['zaken.lezen'] });
      // Clients of both organisations the matrix never changes, and one event of no organisation.
      await ts.createClient({ clientId: 'own-app', rsin: OWN, allowedScopes: ['zaken.lezen'] });
      await ts.createClient({ clientId: 'other-app', rsin: OTHER, allowedScopes: ['zaken.lezen'] });
      await ts.app.audit.record({ actor: 'test', action: 'key.rotated', target: 'k-1', details: {} });
      tokens.global = await ts.token(ts.admin.clientId, ts.admin.secret);
      tokens.organisation = await ts.token(orgAdmin.clientId, orgAdmin.secret);
      tokens.ordinary = await ts.token(ordinary.clientId, ordinary.secret);
    });
    after(() => ts.close());

    it('has an entry for every admin route the server serves, and no other', () => {
      const served = routesOf(ts, '/admin');
      assert.ok(served.length >= 20, `read the routes: ${served.join(', ')}`);
      assert.deepEqual(served.sort(), Object.keys(ROUTES).sort());
    });

    for (const [route, rc] of Object.entries(ROUTES)) {
      it(route, async () => {
        const [method] = route.split(' ') as [string];
        for (const caller of CALLERS) {
          for (const target of TARGETS) {
            const where = `${route} as ${caller} on ${target}`;
            let subject: Subject;
            if (target === 'unknown')
              subject = { rsin: freshRsin(), clientId: `unknown-${++counter}`, secretId: 'sec_unknown000' };
            else {
              const rsin = target === 'own' ? OWN : OTHER;
              const created = await ts.app.clients.create(
                { clientId: `subject-${++counter}`, rsin, allowedScopes: ['zaken.lezen'] },
                { id: 'test' },
              );
              subject = { rsin, clientId: created.client.clientId, secretId: created.secret.secret.secretId };
            }
            const cell: Cell = { caller, target, subject, ts };
            await rc.prepare?.(cell);
            const { url, body } = rc.request(cell);
            const before = await snapshot(ts);
            const res = await request(`${ts.url}${url}`, {
              method,
              headers: {
                authorization: `Bearer ${tokens[caller]}`,
                ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
              },
              body: body !== undefined ? JSON.stringify(body) : undefined,
            });
            const afterwards = await snapshot(ts);
            if (rc.expect === 'public') {
              assert.ok(res.status < 400, `${where}: ${res.status}`);
            } else {
              const expected = caller === 'ordinary' ? 403 : rc.expect[caller][target];
              assert.equal(res.status, expected, `${where}: ${res.text.slice(0, 300)}`);
              if (
                expected === 403 &&
                (caller === 'ordinary' ||
                  rc.expect.organisation === PLATFORM ||
                  rc.expect.organisation === PLATFORM_OWN_READ)
              ) {
                assert.equal(res.json.code, 'insufficient_scope', where);
                assert.match(
                  String(res.headers['www-authenticate']),
                  new RegExp(`error="insufficient_scope".*scope="${ADMIN_SCOPE}"`),
                  where,
                );
              } else if (expected === 403) assert.equal(res.json.code, 'forbidden', where);
              if (expected === 404) {
                // The same answer as for a client or organisation that does not exist at all.
                assert.equal(res.json.code, 'not_found', where);
                assert.ok(!res.text.includes(OTHER), `${where}: names nothing of the other organisation`);
              }
            }
            const succeeded = res.status < 300;
            if (succeeded && writesFor(rc, cell))
              assert.notDeepEqual(afterwards, before, `${where}: changed the database`);
            else assert.deepEqual(afterwards, before, `${where}: the database did not change`);
            if (succeeded && rc.check) await rc.check(cell, res);
            // Undo what would lock a caller out of the next cells.
            for (const rsin of [OWN, OTHER]) await ts.app.organisations.enable(rsin, { id: 'test' });
          }
        }
      });
    }
  });
});
