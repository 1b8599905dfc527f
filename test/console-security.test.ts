import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_SCOPE, ORG_ADMIN_SCOPE } from '../src/clients/model.js';
import { FAILURE_FLOOR_MS } from '../src/http/failure-floor.js';
import { consoleSignIn, sessionCookieOf } from './console-helpers.js';
import {
  eventually,
  forEachDialect,
  type HttpResult,
  postForm,
  request,
  routesOf,
  startTestServer,
  type TestServer,
} from './helpers.js';

/**
 * Signing keys made in a millisecond, where each RSA key (the default) costs 0.1-0.5 s of CPU: the
 * servers here start with fresh registries, and no test here is about the key's algorithm.
 */
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

const ORG_A = '123456782';
const ORG_B = '111222333';

/** A client's token.revoked events once there are `count`: a session's end is written just after the answer that ended it. */
async function revokedEvents(ts: TestServer, clientId: string, count: number) {
  let found: Awaited<ReturnType<TestServer['app']['audit']['list']>> = [];
  await eventually(async () => {
    await ts.app.audit.flush(true);
    found = await ts.app.audit.list({ action: 'token.revoked', target: clientId, limit: 100 });
    return found.length >= count;
  }, 5000);
  return found;
}

/** The session has ended: this request is refused or sent to sign in, and the next finds no session. */
async function ended(c: { get(path: string): Promise<HttpResult> }, why: string) {
  const res = await c.get('/console/clients');
  assert.ok(
    res.status === 401 || (res.status === 303 && res.headers.location === '/console/sign-in'),
    `${why}: ${res.status}`,
  );
  assert.equal((await c.get('/console/clients')).status, 303, `${why}: the session is gone`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('console sign-in refusals: the floor of /token and one answer', () => {
  let ts: TestServer;
  before(async () => {
    // No back-off in the way: this measures the refusals themselves.
    ts = await startTestServer({ env: { ...FAST_KEYS, ZGW_AUTH_LOCKOUT_THRESHOLD: '100000' } });
  });
  after(() => ts.close());

  it('holds every refused sign-in to the failure floor, as /token does, with byte-identical answers', async (t) => {
    const admin = await ts.createClient({ allowedScopes: [ADMIN_SCOPE] });
    const disabled = await ts.createClient({ allowedScopes: [ADMIN_SCOPE] });
    await ts.app.clients.update(disabled.clientId, { enabled: false }, { id: 'test' });
    await ts.app.organisations.create({ rsin: ORG_B, name: 'Uit' }, { id: 'test' });
    const inDisabledOrg = await ts.createClient({ allowedScopes: [ORG_ADMIN_SCOPE], rsin: ORG_B });
    await ts.app.organisations.disable(ORG_B, { id: 'test' });
    const revoked = await ts.createClient({ allowedScopes: [ADMIN_SCOPE] });
    const [oldSecret] = await ts.app.clients.listSecrets(revoked.clientId);
    await ts.app.clients.addSecret(revoked.clientId, { label: 'new' }, { id: 'test' });
    await ts.app.clients.revokeSecret(revoked.clientId, oldSecret!.secretId, { id: 'test' });
    const plain = await ts.createClient({ allowedScopes: ['zaken.lezen'] });

    // The same length of id everywhere, so that the echoed id alone differs between the answers.
    const unknownId = admin.clientId.replace(/^client-/, 'nobody-').slice(0, admin.clientId.length);
    const refusals: Record<string, { clientId: string; secret: string }> = {
      unknownClient: { clientId: unknownId, secret: admin.secret },
      wrongSecret: { clientId: admin.clientId, secret: 'not-the-secret-' + 'x'.repeat(30) },
      disabledClient: disabled,
      disabledOrganisation: inDisabledOrg,
      revokedSecret: revoked,
    };
    const signIn = async (creds: { clientId: string; secret: string }) => {
      const start = performance.now();
      const res = await postForm(
        `${ts.url}/console/sign-in`,
        { client_id: creds.clientId, client_secret: creds.secret },
        { origin: ts.url },
      );
      return { res, ms: performance.now() - start };
    };
    const viaToken = async (creds: { clientId: string; secret: string }) => {
      const start = performance.now();
      const res = await postForm(`${ts.url}/token`, {
        grant_type: 'client_credentials',
        client_id: creds.clientId,
        client_secret: creds.secret,
      });
      assert.equal(res.status, 401);
      return performance.now() - start;
    };

    const times: Record<string, number[]> = { notAdministrator: [], tokenUnknown: [], tokenWrongSecret: [] };
    const answers = new Map<string, HttpResult>();
    // Interleaved rounds: the machine's load falls alike on every kind.
    for (let round = 0; round < 12; round++) {
      for (const [kind, creds] of Object.entries(refusals)) {
        const { res, ms } = await signIn(creds);
        assert.equal(res.status, 401, `${kind}: ${res.text.slice(0, 200)}`);
        assert.equal(sessionCookieOf(res), undefined);
        (times[kind] ??= []).push(ms);
        answers.set(kind, res);
      }
      const notAdmin = await signIn(plain);
      assert.equal(notAdmin.res.status, 403);
      times.notAdministrator!.push(notAdmin.ms);
      times.tokenUnknown!.push(await viaToken(refusals.unknownClient!));
      times.tokenWrongSecret!.push(await viaToken(refusals.wrongSecret!));
    }

    for (const [kind, ms] of Object.entries(times)) {
      // A lower bound measured at the client, which sent the request before the server's clock started: load cannot break it.
      assert.ok(
        Math.min(...ms) >= FAILURE_FLOOR_MS,
        `${kind}: fastest refusal ${Math.min(...ms).toFixed(1)} ms, below the ${FAILURE_FLOOR_MS} ms floor`,
      );
    }
    const normalised = (kind: string) => {
      const res = answers.get(kind)!;
      const headers = Object.entries(res.headers).filter(
        ([name]) => !['date', 'content-length', 'keep-alive', 'connection'].includes(name),
      );
      return { status: res.status, headers, body: res.text.replaceAll(refusals[kind]!.clientId, '<id>') };
    };
    for (const kind of Object.keys(refusals))
      assert.deepEqual(normalised(kind), normalised('unknownClient'), `${kind} is answered as an unknown client is`);
    t.diagnostic(
      Object.entries(times)
        .map(([kind, ms]) => `${kind} median ${median(ms).toFixed(1)} ms`)
        .join('; '),
    );
  });
});

forEachDialect((dialect) => {
  describe(`console sessions in the audit trail and activity of their organisation (${dialect})`, () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer({ dialect, env: FAST_KEYS });
    });
    after(() => ts.close());

    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

    it("files console sign-in and session end under the administrator's organisation, where its own view shows them", async () => {
      const orgAdmin = await ts.createClient({ allowedScopes: [ORG_ADMIN_SCOPE], rsin: ORG_A });
      const c = await consoleSignIn(ts, orgAdmin.clientId, orgAdmin.secret);
      assert.equal((await c.post('/console/sign-out', {})).status, 303);
      const idle = await consoleSignIn(ts, orgAdmin.clientId, orgAdmin.secret);
      ts.clock.advance(ts.config.consoleIdleTimeout + 1);
      assert.equal((await idle.get('/console/clients')).status, 303);
      await revokedEvents(ts, orgAdmin.clientId, 2);

      const filed = await ts.app.audit.list({ organisation: ORG_A, target: orgAdmin.clientId, limit: 100 });
      const issued = filed.filter((e) => e.action === 'token.issued' && e.details.via === 'console');
      const ended = filed.filter((e) => e.action === 'token.revoked' && e.details.via === 'console');
      assert.equal(issued.length, 2, 'both sign-ins');
      assert.deepEqual(ended.map((e) => e.details.why).sort(), ['idle', 'signed_out']);
      for (const e of [...issued, ...ended]) assert.equal(e.organisation, ORG_A);

      // The organisation's own audit view and activity, through the admin API as its administrator.
      const own = await ts.token(orgAdmin.clientId, orgAdmin.secret);
      const view = await request(`${ts.url}/admin/audit?target=${orgAdmin.clientId}&limit=100`, bearer(own));
      assert.equal(view.status, 200, view.text);
      const seen = (view.json as { items: { action: string; details: Record<string, unknown> }[] }).items.filter(
        (e) => e.details.via === 'console',
      );
      assert.equal(seen.filter((e) => e.action === 'token.issued').length, 2);
      assert.equal(seen.filter((e) => e.action === 'token.revoked').length, 2);
      const activity = await request(`${ts.url}/admin/activity`, bearer(own));
      assert.deepEqual(
        (activity.json as { clients: { clientId: string; issued: number }[] }).clients.find(
          (x) => x.clientId === orgAdmin.clientId,
        )?.issued,
        3,
        'two console sign-ins and the token above',
      );
    });

    it('attributes activity by the organisation events recorded, never by who holds the client id now', async () => {
      const id = `reused-${dialect}`;
      // Failures for an id nobody holds yet record no organisation; so did token events an older version wrote.
      for (let i = 0; i < 3; i++)
        assert.equal(
          (
            await postForm(`${ts.url}/token`, {
              grant_type: 'client_credentials',
              client_id: id,
              client_secret: 'guess-' + i,
            })
          ).status,
          401,
        );
      await ts.app.audit.record({ actor: id, action: 'token.issued', target: id, details: { jti: 'from-before' } });
      // The id is then registered in A, used, deleted, and registered in B.
      const first = await ts.app.clients.create({ clientId: id, rsin: ORG_A }, { id: 'test' });
      await ts.token(id, first.secret.value);
      await ts.app.clients.delete(id, { id: 'test' });
      const second = await ts.app.clients.create(
        { clientId: id, rsin: ORG_B, allowedScopes: [ORG_ADMIN_SCOPE] },
        { id: 'test' },
      );
      const global = await ts.token(ts.admin.clientId, ts.admin.secret);

      type Report = {
        hours: { issued: number; failed: number }[];
        clients: { clientId: string; rsin: string | null; issued: number; failed: number }[];
        organisations: { rsin: string | null }[];
      };
      const forB = (await request(`${ts.url}/admin/activity?rsin=${ORG_B}`, bearer(global))).json as Report;
      assert.deepEqual(forB.clients, [], "B's view holds none of the id's earlier events");
      assert.equal(
        forB.hours.reduce((n, h) => n + h.issued + h.failed, 0),
        0,
      );
      const all = (await request(`${ts.url}/admin/activity?clientId=${id}`, bearer(global))).json as Report;
      assert.deepEqual(
        all.clients.map((x) => [x.rsin, x.issued, x.failed]).sort(),
        [
          [ORG_A, 1, 0],
          [null, 1, 3],
        ].sort(),
      );
      // The id's new holder, as administrator of B, sees nothing of it either.
      const ownToken = await ts.token(id, second.secret.value);
      const own = (await request(`${ts.url}/admin/activity`, bearer(ownToken))).json as Report;
      assert.deepEqual(
        own.clients.map((x) => [x.clientId, x.rsin, x.issued, x.failed]),
        [[id, ORG_B, 1, 0]],
        'only the token it just took',
      );
    });
  });
});

describe('console forms: what the forms do not send is a 4xx, never a 500', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: FAST_KEYS });
  });
  after(() => ts.close());

  const FIELDS = [
    'client_id',
    'client_secret',
    'clientId',
    'rsin',
    'name',
    'description',
    'allowedScopes',
    'defaultScopes',
    'staticClaims',
    'tokenLifetime',
    'selfSignedAllowed',
    'label',
    'expiresAt',
    'token',
    'publishDelay',
    'now',
  ];
  const HOSTILE: [string, unknown][] = [
    ['number', 12345],
    ['array', ['a', 'b']],
    ['object', { a: 'b' }],
    ['null', null],
    ['nested', { a: [{ b: { c: [1, null, 'x'] } }] }],
    ['boolean', true],
  ];

  it('refuses hostile bodies of every content type at every console POST route, and changes nothing', async () => {
    const c = await consoleSignIn(ts);
    const target = await ts.createClient({ rsin: ORG_A });
    const [secret] = await ts.app.clients.listSecrets(target.clientId);
    const keysBefore = (await ts.app.keys.list()).length;
    const before = await ts.app.clients.get(target.clientId);
    const routes = routesOf(ts, '/console')
      .filter((r) => r.startsWith('POST '))
      .map((r) =>
        r.slice(5).replace(':clientId', target.clientId).replace(':secretId', secret!.secretId).replace(':rsin', ORG_A),
      );
    assert.ok(
      routes.includes('/console/sign-in') && routes.includes(`/console/clients/${target.clientId}/disable`),
      routes.join(' '),
    );

    const json = (value: unknown) => JSON.stringify(value);
    const everyField = (value: unknown) => ({ csrf: c.csrf, ...Object.fromEntries(FIELDS.map((f) => [f, value])) });
    const bodies: [string, string, string | undefined][] = [
      ...HOSTILE.map(([what, value]): [string, string, string] => [
        `JSON ${what}`,
        'application/json',
        json(everyField(value)),
      ]),
      ...HOSTILE.map(([what, value]): [string, string, string] => [
        `JSON csrf ${what}`,
        'application/json',
        json({ ...everyField('x'), csrf: value }),
      ]),
      ['JSON strings only', 'application/json', json(everyField('x'))],
      ['JSON array', 'application/json', json([everyField('x')])],
      ['JSON null', 'application/json', 'null'],
      ['JSON number', 'application/json; charset=utf-8', '42'],
      ['text/plain form', 'text/plain', `csrf=${c.csrf}&clientId=${target.clientId}`],
      [
        'multipart',
        'multipart/form-data; boundary=b',
        `--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n${c.csrf}\r\n--b--\r\n`,
      ],
      ['XML', 'application/xml', '<csrf>x</csrf>'],
      ['no content type', '', `csrf=${c.csrf}`],
      [
        'duplicate csrf',
        'application/x-www-form-urlencoded',
        `csrf=${c.csrf}&csrf=${c.csrf}&clientId=${target.clientId}`,
      ],
      [
        'duplicate field',
        'application/x-www-form-urlencoded',
        `csrf=${c.csrf}&clientId=${target.clientId}&clientId=other&client_id=a&client_id=b&token=a&token=b&now=true&now=true`,
      ],
      [
        'value over any form field',
        'application/x-www-form-urlencoded',
        `csrf=${c.csrf}&${FIELDS.map((f) => `${f}=${'x'.repeat(20_000)}`)
          .slice(0, 2)
          .join('&')}`,
      ],
      ['body over the limit', 'application/x-www-form-urlencoded', `csrf=${c.csrf}&description=${'x'.repeat(70_000)}`],
      [
        'too many fields',
        'application/x-www-form-urlencoded',
        `csrf=${c.csrf}&${Array.from({ length: 200 }, (_, i) => `f${i}=x`).join('&')}`,
      ],
    ];
    const failures: string[] = [];
    for (const path of routes) {
      for (const [what, type, body] of bodies) {
        const res = await request(`${ts.url}${path}`, {
          method: 'POST',
          headers: { cookie: c.cookie, origin: ts.url, ...(type ? { 'content-type': type } : {}) },
          body,
        });
        const ok =
          res.status >= 400 &&
          res.status < 500 &&
          String(res.headers['content-type']).startsWith('text/html') &&
          sessionCookieOf(res) === undefined;
        if (!ok) failures.push(`${path} ${what}: ${res.status} ${String(res.headers['content-type'])}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(await ts.app.clients.get(target.clientId), before, 'the client is as it was');
    assert.equal((await ts.app.clients.listSecrets(target.clientId)).filter((s) => s.revokedAt === null).length, 1);
    assert.equal((await ts.app.keys.list()).length, keysBefore, 'no key rotated');
    assert.equal((await c.get('/console/clients')).status, 200, 'the session lives on');
  });
});

describe('console sessions follow the registry', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: FAST_KEYS });
    await ts.app.organisations.create({ rsin: ORG_A, name: 'A' }, { id: 'test' });
    await ts.app.organisations.create({ rsin: ORG_B, name: 'B' }, { id: 'test' });
  });
  after(() => ts.close());

  const rsinField = (html: string) => /<input\b(?=[^>]*\bname="rsin")[^>]*\bvalue="([^"]*)"/s.exec(html)?.[1];

  it("shows the organisation the registry has now, in the header and the new-client form, and acts as that organisation's administrator", async () => {
    const orgAdmin = await ts.createClient({ allowedScopes: [ORG_ADMIN_SCOPE], rsin: ORG_A });
    const c = await consoleSignIn(ts, orgAdmin.clientId, orgAdmin.secret);
    assert.equal(rsinField((await c.get('/console/clients/new')).text), ORG_A);
    await ts.app.clients.update(orgAdmin.clientId, { rsin: ORG_B }, { id: 'test' });

    const list = await c.get('/console/clients');
    assert.equal(list.status, 200);
    assert.ok(list.text.includes(ORG_B), 'the page names the new organisation');
    assert.ok(!list.text.includes(ORG_A), 'and nothing of the old one');
    const form = await c.get('/console/clients/new');
    assert.equal(rsinField(form.text), ORG_B);
    const created = await c.post('/console/clients', { clientId: 'made-after-move', rsin: rsinField(form.text)! });
    assert.equal(created.status, 200, created.text.slice(0, 300));
    assert.equal((await ts.app.clients.get('made-after-move')).rsin, ORG_B);
  });

  it("ends the session when the client no longer holds its token's administrator scope; signed in again, it is what the registry says", async () => {
    const admin = await ts.createClient({ allowedScopes: [ADMIN_SCOPE, ORG_ADMIN_SCOPE], rsin: ORG_A });
    const c = await consoleSignIn(ts, admin.clientId, admin.secret);
    assert.match((await c.get('/console/clients')).text, /href="\/console\/keys"/);
    await ts.app.clients.update(admin.clientId, { allowedScopes: [ORG_ADMIN_SCOPE] }, { id: 'test' });
    await ended(c, 'global administrator scope taken away');
    const again = await consoleSignIn(ts, admin.clientId, admin.secret);
    const narrowed = await again.get('/console/clients');
    assert.doesNotMatch(
      narrowed.text,
      /href="\/console\/(keys|organisations)"/,
      'no platform pages for an organisation administrator',
    );
    assert.equal(rsinField((await again.get('/console/clients/new')).text), ORG_A);
    await ts.app.clients.update(admin.clientId, { allowedScopes: ['zaken.lezen'] }, { id: 'test' });
    await ended(again, 'no administrator scope');
    const why = (await revokedEvents(ts, admin.clientId, 2)).map((e) => e.details.why);
    assert.deepEqual(why, ['refused', 'refused']);
  });

  it('ends the session of a client disabled, or of an organisation disabled, while signed in, and revokes its token', async () => {
    for (const disable of ['client', 'organisation'] as const) {
      const rsin = disable === 'client' ? ORG_A : '100000009';
      if (disable === 'organisation') await ts.app.organisations.create({ rsin, name: 'C' }, { id: 'test' });
      const admin = await ts.createClient({ allowedScopes: [ORG_ADMIN_SCOPE], rsin });
      const c = await consoleSignIn(ts, admin.clientId, admin.secret);
      if (disable === 'client') await ts.app.clients.update(admin.clientId, { enabled: false }, { id: 'test' });
      else await ts.app.organisations.disable(rsin, { id: 'test' });
      await ended(c, `${disable} disabled`);
      const revoked = await revokedEvents(ts, admin.clientId, 1);
      assert.equal(revoked.length, 1, disable);
      assert.equal(await ts.app.revocations.isRevoked(String(revoked[0]!.details.jti)), true);
    }
  });
});

describe('console client edits that would lock administrators out', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: FAST_KEYS });
    await ts.app.organisations.create({ rsin: ORG_A, name: 'Gemeente A' }, { id: 'test' });
    await ts.app.organisations.create({ rsin: ORG_B, name: 'Gemeente B' }, { id: 'test' });
  });
  after(() => ts.close());

  /** The edit form as the page sends it, with the client's values and `changes`. */
  const editForm = async (clientId: string, changes: Record<string, string>) => {
    const client = await ts.app.clients.get(clientId);
    const allowedScopes = changes.allowedScopes ?? client.allowedScopes.join(' ');
    return {
      name: client.name,
      description: client.description,
      allowedScopes,
      // Default scopes are a subset of the allowed ones.
      defaultScopes: client.defaultScopes.filter((s) => allowedScopes.split(' ').includes(s)).join(' '),
      staticClaims: '',
      tokenLifetime: '',
      ...changes,
    };
  };
  const hiddenFields = (html: string) =>
    Object.fromEntries(
      [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [
        m[1]!,
        m[2]!.replaceAll('&quot;', '"').replaceAll('&amp;', '&'),
      ]),
    );

  it('asks to confirm stripping the administrator scope from the own client, the last platform administrator and the last organisation administrator, and changes nothing until confirmed', async () => {
    const orgAdmin = await ts.createClient({
      allowedScopes: [ORG_ADMIN_SCOPE, 'zaken.lezen'],
      rsin: ORG_A,
      name: 'Beheer A',
    });
    const platform = await consoleSignIn(ts);
    const own = await consoleSignIn(ts, orgAdmin.clientId, orgAdmin.secret);
    const cases = [
      {
        c: platform,
        target: ts.admin.clientId,
        scope: ADMIN_SCOPE,
        says: [/waarmee u nu bent aangemeld/, /laatste actieve platformbeheerder/],
      },
      {
        c: platform,
        target: orgAdmin.clientId,
        scope: ORG_ADMIN_SCOPE,
        says: [/laatste actieve beheerdersclient van Gemeente A/],
      },
      {
        c: own,
        target: orgAdmin.clientId,
        scope: ORG_ADMIN_SCOPE,
        says: [/waarmee u nu bent aangemeld/, /laatste actieve beheerdersclient van Gemeente A/],
      },
    ];
    for (const { c, target, scope, says } of cases) {
      const before = await ts.app.clients.get(target);
      const form = await editForm(target, {
        allowedScopes: before.allowedScopes.filter((s) => s !== scope).join(' '),
        name: 'Nieuwe naam',
      });
      // The scope kept but the client moved out of the organisation: it loses its last administrator all the same.
      const moved = await editForm(target, { rsin: ORG_B });
      if (scope === ORG_ADMIN_SCOPE && c === platform)
        assert.match(
          (await c.post(`/console/clients/${target}`, moved)).text,
          says[0]!,
          'moved to another organisation',
        );
      const res = await c.post(`/console/clients/${target}`, form);
      assert.equal(res.status, 200, `${target} without ${scope}: a confirmation, not a save (${res.status})`);
      for (const text of says) assert.match(res.text, text, `${target} without ${scope}`);
      // lastTokenAt aside: the usage recorder writes it in the background whenever a token was issued.
      assert.deepEqual(
        withoutUsage(await ts.app.clients.get(target)),
        withoutUsage(before),
        'nothing changed before the confirmation',
      );
      // The confirmation carries the edit as it was sent: confirming it saves exactly that.
      const hidden = hiddenFields(res.text);
      assert.equal(hidden.confirmed, 'yes');
      assert.equal(hidden.allowedScopes, form.allowedScopes);
      assert.equal(hidden.name, 'Nieuwe naam');
    }
    // Confirmed: the organisation administrator strips its own scope, and its session ends.
    const confirmed = await own.post(`/console/clients/${orgAdmin.clientId}`, {
      ...(await editForm(orgAdmin.clientId, { allowedScopes: 'zaken.lezen' })),
      confirmed: 'yes',
    });
    assert.equal(confirmed.status, 303, confirmed.text.slice(0, 300));
    assert.deepEqual((await ts.app.clients.get(orgAdmin.clientId)).allowedScopes, ['zaken.lezen']);
  });

  it('saves at once when another enabled administrator remains and the client is not the own one', async () => {
    const first = await ts.createClient({ allowedScopes: [ORG_ADMIN_SCOPE], rsin: ORG_A });
    const second = await ts.createClient({ allowedScopes: [ORG_ADMIN_SCOPE], rsin: ORG_A });
    const platform = await consoleSignIn(ts);
    const res = await platform.post(
      `/console/clients/${first.clientId}`,
      await editForm(first.clientId, { allowedScopes: 'zaken.lezen' }),
    );
    assert.equal(res.status, 303, res.text.slice(0, 300));
    assert.deepEqual((await ts.app.clients.get(first.clientId)).allowedScopes, ['zaken.lezen']);
    assert.ok((await ts.app.clients.get(second.clientId)).allowedScopes.includes(ORG_ADMIN_SCOPE));
  });

  it('refuses an edit form that lacks its fields (400, in the page language) and never reads an absent field as "clear"', async () => {
    const target = await ts.createClient({
      allowedScopes: ['zaken.lezen'],
      defaultScopes: ['zaken.lezen'],
      name: 'Blijft',
      description: 'Blijft ook',
    });
    const c = await consoleSignIn(ts);
    const before = await ts.app.clients.get(target.clientId);
    const bodies: [string, Record<string, string> | string][] = [
      ['only the form token', {}],
      ['the name alone', { name: 'Alleen naam' }],
      ['all but the scopes', { name: 'x', description: '', defaultScopes: '', staticClaims: '', tokenLifetime: '' }],
      ['a body that is no form', '%%%&&&=='],
    ];
    for (const [what, body] of bodies) {
      for (const lang of ['nl', 'en']) {
        const res =
          typeof body === 'string'
            ? await request(`${ts.url}/console/clients/${target.clientId}?lang=${lang}`, {
                method: 'POST',
                headers: { cookie: c.cookie, origin: ts.url, 'content-type': 'application/x-www-form-urlencoded' },
                body: `csrf=${c.csrf}&${body}`,
              })
            : await c.post(`/console/clients/${target.clientId}?lang=${lang}`, body);
        assert.equal(res.status, 400, `${what} (${lang}): ${res.status}`);
        assert.match(String(res.headers['content-type']), /^text\/html/);
        assert.match(
          res.text,
          lang === 'nl' ? /Het formulier is niet volledig verzonden/ : /The form was not sent in full/,
          `${what} (${lang})`,
        );
      }
      assert.deepEqual(await ts.app.clients.get(target.clientId), before, `${what}: the client is as it was`);
    }
    // The organisation form alike: a rename without its name field is refused, not read as an empty name.
    const org = await c.post(`/console/organisations/${ORG_B}`, {});
    assert.equal(org.status, 400);
    assert.match(org.text, /Het formulier is niet volledig verzonden/);
  });
});

describe('console sessions end with the secret they signed in with', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: FAST_KEYS });
  });
  after(() => ts.close());

  it('ends the session of a revoked secret at its next request, audited and its token revoked; a session of another secret lives on', async () => {
    const admin = await ts.createClient({ allowedScopes: [ADMIN_SCOPE] });
    const [firstSecret] = await ts.app.clients.listSecrets(admin.clientId);
    const other = await ts.app.clients.addSecret(admin.clientId, { label: 'tweede' }, { id: 'test' });
    const viaFirst = await consoleSignIn(ts, admin.clientId, admin.secret);
    const viaOther = await consoleSignIn(ts, admin.clientId, other.value);
    await ts.app.clients.revokeSecret(admin.clientId, firstSecret!.secretId, { id: 'test' });
    await ended(viaFirst, 'secret revoked');
    assert.equal((await viaOther.get('/console/clients')).status, 200, 'the session of the other secret lives on');
    const revoked = await revokedEvents(ts, admin.clientId, 1);
    assert.deepEqual(
      revoked.map((e) => e.details.why),
      ['revoked_secret'],
    );
    assert.equal(await ts.app.revocations.isRevoked(String(revoked[0]!.details.jti)), true);
  });

  it('ends the session of a secret that has expired since the sign-in', async () => {
    const admin = await ts.createClient({ allowedScopes: [ADMIN_SCOPE] });
    const [firstSecret] = await ts.app.clients.listSecrets(admin.clientId);
    const short = await ts.app.clients.addSecret(
      admin.clientId,
      { label: 'kort', expiresAt: ts.clock.now() + 60_000 },
      { id: 'test' },
    );
    await ts.app.clients.revokeSecret(admin.clientId, firstSecret!.secretId, { id: 'test' });
    const c = await consoleSignIn(ts, admin.clientId, short.value);
    assert.equal((await c.get('/console/clients')).status, 200);
    ts.clock.advance(61);
    await ended(c, 'secret expired');
    assert.deepEqual(
      (await revokedEvents(ts, admin.clientId, 1)).map((e) => e.details.why),
      ['expired_secret'],
    );
  });
});

/** A client as an edit leaves it: without the last-use mark, which token requests move in the background. */
function withoutUsage<T extends { lastTokenAt?: unknown }>(client: T): Omit<T, 'lastTokenAt'> {
  const { lastTokenAt: _, ...rest } = client;
  return rest;
}
