import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { consoleSignIn, csrfOf, sessionCookieOf } from './console-helpers.js';
import { forEachDialect, hs256, postForm, request, startTestServer, type TestServer } from './helpers.js';

/**
 * Signing keys made in a millisecond, where each RSA key (the default) costs 0.1-0.5 s of CPU: the
 * servers here start with fresh registries, and no test here is about the key's algorithm.
 */
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

const auditOf = async (ts: TestServer, action: string) =>
  (await ts.app.audit.list({ action, limit: 100 })).map((e) => e.details);

describe('console: session, cookie and headers', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: FAST_KEYS });
  });
  after(() => ts.close());

  it('sets an HttpOnly, SameSite=Strict session cookie that holds no token or secret, and pages send a strict CSP', async () => {
    const res = await postForm(
      `${ts.url}/console/sign-in`,
      { client_id: ts.admin.clientId, client_secret: ts.admin.secret },
      { origin: ts.url },
    );
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/console/clients');
    const cookie = sessionCookieOf(res)!;
    assert.match(
      cookie,
      /^zgw-auth-console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/,
      'http issuer: no Secure, no __Host- prefix',
    );
    const page = await request(`${ts.url}/console/clients`, { headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(page.status, 200);
    assert.equal(
      page.headers['content-security-policy'],
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    );
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)/, 'no inline script');
    assert.doesNotMatch(page.text, /\sstyle=/, 'no inline style');
    assert.ok(!page.text.includes(ts.admin.secret), 'the secret is not in the page');
    assert.doesNotMatch(page.text, /eyJ[\w-]+\.eyJ/, 'no token in the page');
    const signIn = await request(`${ts.url}/console/sign-in`);
    assert.equal(
      signIn.headers['content-security-policy']?.includes("frame-ancestors 'none'"),
      true,
      'the sign-in page has the CSP too',
    );
  });

  it('refuses a POST without the form token, with a wrong one, or from another origin; the change is not made', async () => {
    const c = await consoleSignIn(ts);
    const { clientId } = await ts.createClient();
    for (const [csrf, origin] of [
      [false, undefined],
      ['x'.repeat(43), undefined],
      [undefined, 'https://evil.example'],
    ] as const) {
      const res = await c.post(`/console/clients/${clientId}/disable`, {}, { csrf, origin });
      assert.equal(res.status, 403, `csrf ${String(csrf)} origin ${String(origin)}`);
      assert.equal((await ts.app.clients.get(clientId)).enabled, true);
    }
    const crossSite = await postForm(
      `${ts.url}/console/clients/${clientId}/disable`,
      { csrf: c.csrf },
      { cookie: c.cookie, 'sec-fetch-site': 'cross-site' },
    );
    assert.equal(crossSite.status, 403, 'Fetch Metadata: a cross-site form without Origin');
    const ok = await c.post(`/console/clients/${clientId}/disable`, {});
    assert.equal(ok.status, 303);
    assert.equal((await ts.app.clients.get(clientId)).enabled, false);
    const signOut = await c.post('/console/sign-out', {}, { csrf: false });
    assert.equal(signOut.status, 403, 'sign-out too needs the form token');
  });

  it('ends a session after the idle timeout and revokes its token; activity keeps it going', async () => {
    const c = await consoleSignIn(ts);
    ts.clock.advance(800);
    assert.equal((await c.get('/console/clients')).status, 200);
    ts.clock.advance(800);
    assert.equal((await c.get('/console/clients')).status, 200, 'each request restarts the idle time');
    ts.clock.advance(901);
    const res = await c.get('/console/clients');
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, '/console/sign-in');
    assert.ok((await auditOf(ts, 'token.revoked')).some((d) => d.via === 'console' && d.why === 'idle'));
  });

  it('signs out: the cookie is cleared, the old id opens nothing, the token is revoked', async () => {
    const c = await consoleSignIn(ts);
    const res = await c.post('/console/sign-out', {});
    assert.equal(res.status, 303);
    assert.ok(
      ([] as string[])
        .concat(res.headers['set-cookie'] ?? [])
        .some((c) => /^zgw-auth-console=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/.test(c)),
      'the cookie is cleared',
    );
    const after = await c.get('/console/clients');
    assert.equal(after.status, 303);
    assert.equal(after.headers.location, '/console/sign-in');
    const revoked = (await auditOf(ts, 'token.revoked')).filter((d) => d.why === 'signed_out');
    assert.equal(revoked.length, 1);
    assert.equal(await ts.app.revocations.isRevoked(String(revoked[0]!.jti)), true);
  });

  it('refuses a sign-in posted with Origin null unless Fetch Metadata says same-origin (login CSRF from older browsers)', async () => {
    const creds = { client_id: ts.admin.clientId, client_secret: ts.admin.secret };
    const foreign = await postForm(`${ts.url}/console/sign-in`, creds, { origin: 'null' });
    assert.equal(foreign.status, 403);
    assert.equal(sessionCookieOf(foreign), undefined);
    const own = await postForm(`${ts.url}/console/sign-in`, creds, { origin: 'null', 'sec-fetch-site': 'same-origin' });
    assert.equal(own.status, 303);
  });

  it('refuses clients that are not administrators, without a session', async () => {
    const plain = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
    const res = await postForm(
      `${ts.url}/console/sign-in`,
      { client_id: plain.clientId, client_secret: plain.secret },
      { origin: ts.url },
    );
    assert.equal(res.status, 403);
    assert.equal(sessionCookieOf(res), undefined);
    assert.match(res.text, /geen beheerder/);
  });

  it('speaks Dutch by default and English by the switch, which a cookie keeps', async () => {
    const nl = await request(`${ts.url}/console/sign-in`);
    assert.match(nl.text, /<html lang="nl"/);
    assert.match(nl.text, />Aanmelden</);
    const en = await request(`${ts.url}/console/sign-in?lang=en`);
    assert.match(en.text, /<html lang="en"/);
    assert.match(en.text, />Sign in</);
    const lang = ([] as string[]).concat(en.headers['set-cookie'] ?? []).find((c) => c.startsWith('zgw-auth-lang='))!;
    const kept = await request(`${ts.url}/console/sign-in`, { headers: { cookie: lang.split(';')[0]! } });
    assert.match(kept.text, /<html lang="en"/);
  });
});

describe('console: sign-in failures count in the back-off of /token', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: { ...FAST_KEYS, ZGW_AUTH_LOCKOUT_THRESHOLD: '3' } });
  });
  after(() => ts.close());

  it('backs off after the threshold, at the console and at /token alike, and audits each failure as the console', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await postForm(
        `${ts.url}/console/sign-in`,
        { client_id: ts.admin.clientId, client_secret: 'wrong-secret-' + i },
        { origin: ts.url },
      );
      assert.equal(res.status, 401);
      assert.equal(sessionCookieOf(res), undefined);
    }
    const backedOff = await postForm(
      `${ts.url}/console/sign-in`,
      { client_id: ts.admin.clientId, client_secret: ts.admin.secret },
      { origin: ts.url },
    );
    assert.equal(backedOff.status, 429, 'even the right secret waits');
    assert.ok(Number(backedOff.headers['retry-after']) >= 1);
    assert.equal(sessionCookieOf(backedOff), undefined);
    const token = await postForm(`${ts.url}/token`, {
      grant_type: 'client_credentials',
      client_id: ts.admin.clientId,
      client_secret: ts.admin.secret,
    });
    assert.equal(token.status, 429, '/token shares the back-off');
    await ts.app.audit.flush(true);
    const failed = await ts.app.audit.list({ action: 'client_auth.failed', limit: 10 });
    assert.ok(failed.some((e) => e.details.endpoint === 'console' && e.reason === 'wrong_secret'));
  });
});

describe('admin API token inspector: refused self-signed tokens count as guesses', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: { ...FAST_KEYS, ZGW_AUTH_LOCKOUT_THRESHOLD: '3' } });
  });
  after(() => ts.close());

  it('backs the inspecting address off after the threshold, for that client id, and audits the failures', async () => {
    const self = await ts.createClient({ selfSignedAllowed: true });
    const adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
    const now = Math.floor(ts.clock.now() / 1000);
    const guess = (i: number) =>
      hs256(
        { client_id: self.clientId, iss: self.clientId, iat: now, exp: now + 600 },
        `guessed-secret-${i}-0000000000000000000000`,
      );
    const inspect = (token: string) =>
      request(`${ts.url}/admin/tokens/inspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
    for (let i = 0; i < 3; i++) {
      const res = await inspect(guess(i));
      assert.equal(res.status, 200);
      assert.equal(res.json.verdict.code, 'bad_signature');
    }
    const backedOff = await inspect(guess(3));
    assert.equal(backedOff.status, 429);
    assert.ok(Number(backedOff.headers['retry-after']) >= 1);
    await ts.app.audit.flush(true);
    const failed = await ts.app.audit.list({ action: 'client_auth.failed', target: self.clientId });
    assert.ok(failed.some((e) => e.details.endpoint === 'admin' && e.reason === 'bad_signature'));
  });
});

describe('console: a https issuer', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: { ...FAST_KEYS, ZGW_AUTH_ISSUER: 'https://auth.example.nl' } });
  });
  after(() => ts.close());

  it('names the cookie __Host- and marks it Secure', async () => {
    const res = await postForm(
      `${ts.url}/console/sign-in`,
      { client_id: ts.admin.clientId, client_secret: ts.admin.secret },
      { origin: 'https://auth.example.nl' },
    );
    assert.equal(res.status, 303);
    assert.match(
      sessionCookieOf(res)!,
      /^__Host-zgw-auth-console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure$/,
    );
  });
});

describe('console: absolute session lifetime', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ env: { ...FAST_KEYS, ZGW_AUTH_CONSOLE_SESSION_LIFETIME: '600' } });
  });
  after(() => ts.close());

  it('ends however active the session is', async () => {
    const c = await consoleSignIn(ts);
    ts.clock.advance(290);
    assert.equal((await c.get('/console/clients')).status, 200);
    ts.clock.advance(290);
    assert.equal((await c.get('/console/clients')).status, 200);
    ts.clock.advance(30);
    assert.equal((await c.get('/console/clients')).status, 303);
    assert.ok((await auditOf(ts, 'token.revoked')).some((d) => d.why === 'expired'));
  });
});

forEachDialect((dialect) => {
  describe(`console: clients through the admin API (${dialect})`, () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer({ dialect, env: FAST_KEYS });
    });
    after(() => ts.close());

    it('creates a client and shows its secret once, never again', async () => {
      const c = await consoleSignIn(ts);
      const res = await c.post('/console/clients', {
        clientId: 'zaaksysteem',
        rsin: '123456782',
        name: 'Zaaksysteem',
        allowedScopes: 'zaken.lezen zaken.schrijven',
        staticClaims: '{"user_id":"sys"}',
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['cache-control'], 'no-store');
      const secret = /id="secret-value" type="text" readonly value="([^"]+)"/.exec(res.text)?.[1];
      assert.ok(secret, 'the secret is on the page');
      assert.equal(await ts.token('zaaksysteem', secret).then(Boolean), true, 'and it works at /token');
      const client = await ts.app.clients.get('zaaksysteem');
      assert.deepEqual(client.allowedScopes, ['zaken.lezen', 'zaken.schrijven']);
      assert.deepEqual(client.staticClaims, { user_id: 'sys' });
      const page = await c.get('/console/clients/zaaksysteem');
      assert.equal(page.status, 200);
      assert.ok(!page.text.includes(secret), 'the client page does not show it');
      const created = (await ts.app.audit.list({ action: 'client.created', target: 'zaaksysteem' }))[0]!;
      assert.equal(created.actor, ts.admin.clientId, 'the admin API audited the change as the signed-in administrator');
    });

    it('shows the admin API refusal next to the field and keeps what was typed', async () => {
      const c = await consoleSignIn(ts);
      const res = await c.post('/console/clients', { clientId: 'bad id!', rsin: '123456782', name: 'Typed name' });
      assert.equal(res.status, 400);
      assert.match(res.text, /aria-invalid="true"/);
      assert.match(res.text, /value="Typed name"/);
    });

    it('lists with search, filters, sort by last token and paging', async () => {
      const c = await consoleSignIn(ts);
      for (let i = 0; i < 30; i++)
        await ts.app.clients.create(
          {
            clientId: `page-${String(i).padStart(2, '0')}`,
            rsin: '111222333',
            name: `Pagina ${i}`,
            selfSignedAllowed: i % 10 === 0,
          },
          { id: 'test' },
        );
      const used = await ts.app.clients.create({ clientId: 'page-used', rsin: '111222333' }, { id: 'test' });
      await ts.token('page-used', used.secret.value);
      await ts.app.usage.flush();
      const first = await c.get('/console/clients?rsin=111222333');
      assert.match(first.text, /31 clients gevonden/);
      assert.match(first.text, /Pagina 1 van 2/);
      assert.match(first.text, /rel="next" href="\/console\/clients\?rsin=111222333&amp;page=2"/);
      const second = await c.get('/console/clients?rsin=111222333&page=2');
      assert.match(second.text, /page-used/);
      const sorted = await c.get('/console/clients?rsin=111222333&sort=lastToken');
      const ids = [...sorted.text.matchAll(/<a class="utrecht-link" href="\/console\/clients\/(page-[^"]+)">/g)].map(
        (m) => m[1],
      );
      assert.equal(ids[0], 'page-used', 'the client with a token comes first');
      assert.equal(ids[1], 'page-00');
      const selfSigning = await c.get('/console/clients?rsin=111222333&selfSigned=true');
      assert.match(selfSigning.text, /3 clients gevonden/);
      const searched = await c.get('/console/clients?q=PAGINA%2029');
      assert.match(searched.text, /1 clients gevonden/);
      const badRsin = await c.get('/console/clients?rsin=12');
      assert.equal(badRsin.status, 200);
      assert.match(badRsin.text, /role="alert"/);
    });

    it('edits, disables, enables, adds and revokes a secret, and deletes only when the id is typed', async () => {
      const c = await consoleSignIn(ts);
      const { clientId, secret } = await ts.createClient({ name: 'Before' });
      let res = await c.post(`/console/clients/${clientId}`, {
        name: 'After',
        description: 'd',
        allowedScopes: 'zaken.lezen',
        defaultScopes: '',
        staticClaims: '',
        tokenLifetime: '600',
      });
      assert.equal(res.status, 303, res.text);
      const edited = await ts.app.clients.get(clientId);
      assert.equal(edited.name, 'After');
      assert.equal(edited.tokenLifetime, 600);
      assert.equal((await c.post(`/console/clients/${clientId}/disable`, {})).status, 303);
      assert.equal((await ts.app.clients.get(clientId)).enabled, false);
      assert.match(
        (await c.get(`/console/clients/${clientId}`)).text,
        /hij krijgt geen tokens meer/,
        'the notice is shown once',
      );
      assert.equal((await c.post(`/console/clients/${clientId}/enable`, {})).status, 303);
      assert.equal((await ts.app.clients.get(clientId)).enabled, true);

      res = await c.post(`/console/clients/${clientId}/secrets`, { label: 'rotation' });
      assert.equal(res.status, 200);
      const added = /id="secret-value" type="text" readonly value="([^"]+)"/.exec(res.text)![1]!;
      assert.ok(await ts.token(clientId, added));
      const [first] = await ts.app.clients.listSecrets(clientId);
      const confirm = await c.get(`/console/clients/${clientId}/secrets/${first!.secretId}/revoke`);
      assert.equal(confirm.status, 200);
      assert.match(confirm.text, /Weet u zeker/);
      assert.equal(csrfOf(confirm.text), c.csrf);
      assert.equal((await c.post(`/console/clients/${clientId}/secrets/${first!.secretId}/revoke`, {})).status, 303);
      const refused = await postForm(`${ts.url}/token`, {
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
      });
      assert.equal(refused.status, 401, 'the revoked secret stops at once');

      res = await c.post(`/console/clients/${clientId}/delete`, { clientId: 'something-else' });
      assert.equal(res.status, 303);
      assert.ok(await ts.app.clients.get(clientId), 'not deleted without the typed id');
      res = await c.post(`/console/clients/${clientId}/delete`, { clientId });
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, '/console/clients');
      await assert.rejects(ts.app.clients.get(clientId));
    });

    it('creates a client of keys and certificates only: its methods, subject and token binding chosen, no secret', async () => {
      const c = await consoleSignIn(ts);
      const res = await c.post('/console/clients', {
        clientId: 'sleutels',
        rsin: '123456782',
        allowedScopes: 'zaken.lezen',
        authForm: '1',
        'authMethods.private_key_jwt': 'true',
        'authMethods.tls_client_auth': 'true',
        jwksUri: '',
        tlsSubjectField: 'san_dns',
        tlsSubjectValue: 'sleutels.gemeente.example',
        oin: '',
        dpopBoundAccessTokens: 'true',
      });
      assert.equal(res.status, 303, res.text);
      assert.equal(res.headers.location, '/console/clients/sleutels');
      const client = await ts.app.clients.get('sleutels');
      assert.deepEqual(
        [
          client.authMethods,
          client.tlsSubject,
          client.dpopBoundAccessTokens,
          client.tlsClientCertificateBoundAccessTokens,
        ],
        [['private_key_jwt', 'tls_client_auth'], { field: 'san_dns', value: 'sleutels.gemeente.example' }, true, false],
      );
      assert.deepEqual(await ts.app.clients.listSecrets('sleutels'), [], 'no secret generated or stored');
      const page = await c.get('/console/clients/sleutels');
      assert.match(page.text, /zonder geheim: hij meldt zich aan met sleutels of een certificaat/);
      assert.match(
        page.text,
        /id="authMethods\.private_key_jwt" name="authMethods\.private_key_jwt" value="true" checked/,
      );
      assert.doesNotMatch(page.text, /id="authMethods\.client_secret_basic"[^>]*checked/);
      assert.match(page.text, /<option value="san_dns" selected>/);
      assert.match(page.text, /id="dpopBoundAccessTokens" name="dpopBoundAccessTokens" value="true" checked/);
      // No form to add a secret: it says how to get one instead.
      assert.doesNotMatch(page.text, /action="\/console\/clients\/sleutels\/secrets"/);
      assert.match(page.text, /Kies eerst een geheim-methode onder Aanmeldmethoden/);
      // A form of before (no authentication fields) still creates a client of the secret methods.
      const plain = await c.post('/console/clients', { clientId: 'geheim', rsin: '123456782' });
      assert.equal(plain.status, 200, plain.text);
      assert.deepEqual((await ts.app.clients.get('geheim')).authMethods, ['client_secret_basic', 'client_secret_post']);
    });

    it('edits the authentication: saved and audited through the admin API, refused next to the field in the page language', async () => {
      const c = await consoleSignIn(ts);
      const { clientId } = await ts.createClient({ authMethods: ['private_key_jwt'] });
      const form = {
        'authMethods.private_key_jwt': 'true',
        'authMethods.tls_client_auth': 'true',
        jwksUri: 'https://keys.gemeente.example/jwks.json',
        tlsSubjectField: 'subject_dn',
        tlsSubjectValue: 'CN=zaaksysteem,O=Gemeente Voorbeeld',
        oin: '00000001234567890000',
        tlsClientCertificateBoundAccessTokens: 'true',
      };
      const saved = await c.post(`/console/clients/${clientId}/authentication`, form);
      assert.equal(saved.status, 303, saved.text);
      const after = await ts.app.clients.get(clientId);
      assert.deepEqual(
        [
          after.authMethods,
          after.jwksUri,
          after.tlsSubject,
          after.oin,
          after.dpopBoundAccessTokens,
          after.tlsClientCertificateBoundAccessTokens,
        ],
        [
          ['private_key_jwt', 'tls_client_auth'],
          'https://keys.gemeente.example/jwks.json',
          { field: 'subject_dn', value: 'CN=zaaksysteem,O=Gemeente Voorbeeld' },
          '00000001234567890000',
          false,
          true,
        ],
      );
      const [event] = await ts.app.audit.list({ action: 'client.updated', target: clientId });
      assert.equal(event?.actor, ts.admin.clientId);
      assert.equal((event?.details.after as { oin: string }).oin, '00000001234567890000');
      assert.match((await c.get(`/console/clients/${clientId}`)).text, /De aanmelding is opgeslagen/);

      // Each refusal is the admin API's (the same code, naming the same field), shown next to that field.
      const token = await ts.token(ts.admin.clientId, ts.admin.secret);
      const refusals: [Record<string, string>, string, RegExp][] = [
        [
          { 'authMethods.private_key_jwt': '', 'authMethods.tls_client_auth': '' },
          'authMethods',
          /Kies een of meer aanmeldmethoden/,
        ],
        [{ oin: '12345' }, 'oin', /Vul 20 cijfers in/],
        [{ jwksUri: 'http://127.0.0.1/jwks.json' }, 'jwksUri', /Vul een https-adres in dat deze server mag ophalen/],
        [{ tlsSubjectField: 'subject_dn', tlsSubjectValue: 'not a DN' }, 'tlsSubject', /Kies een soort onderwerp/],
      ];
      for (const [change, field, message] of refusals) {
        const sent: Record<string, string> = { ...form, ...change };
        const res = await c.post(`/console/clients/${clientId}/authentication`, sent);
        assert.equal(res.status, 400, `${field}: ${res.text.slice(0, 200)}`);
        const id = field === 'tlsSubject' ? 'tlsSubjectField' : field;
        const next = new RegExp(`id="${id.replace('.', '\\.')}-error">([^<]*)<`).exec(res.text)?.[1] ?? '';
        assert.match(next, message, `${field}: the refusal is next to its field`);
        const body = {
          authMethods: Object.keys(sent)
            .filter((k) => k.startsWith('authMethods.') && sent[k] === 'true')
            .map((k) => k.slice(12)),
          ...(change.oin ? { oin: change.oin } : {}),
          ...(change.jwksUri ? { jwksUri: change.jwksUri } : {}),
          ...(change.tlsSubjectValue ? { tlsSubject: { field: 'subject_dn', value: change.tlsSubjectValue } } : {}),
        };
        const api = await request(`${ts.url}/admin/clients/${clientId}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        assert.deepEqual([api.status, api.json.code, api.json.invalidParams?.[0]?.name], [400, 'invalid_input', field]);
      }
      assert.equal((await ts.app.clients.get(clientId)).oin, '00000001234567890000', 'nothing changed');
      // In English with the language switch.
      const en = await postForm(
        `${ts.url}/console/clients/${clientId}/authentication`,
        { ...form, oin: '12345', csrf: c.csrf },
        { cookie: `${c.cookie}; zgw-auth-lang=en`, origin: ts.url },
      );
      assert.equal(en.status, 400);
      assert.match(en.text, /id="oin-error">Give 20 digits, or leave it empty/);
      // Without the form token nothing changes.
      const forged = await c.post(`/console/clients/${clientId}/authentication`, { ...form, oin: '' }, { csrf: false });
      assert.equal(forged.status, 403);
      assert.equal((await ts.app.clients.get(clientId)).oin, '00000001234567890000');
    });

    it('refuses an OIN that a registered key does not carry, and the last secret method of a self-signing client', async () => {
      const c = await consoleSignIn(ts);
      const { clientId } = await ts.createClient({ authMethods: ['private_key_jwt'] });
      const { publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await ts.app.clients.addKeys(clientId, JSON.stringify(publicKey.export({ format: 'jwk' })), { id: 'test' });
      const keyed = await c.post(`/console/clients/${clientId}/authentication`, {
        'authMethods.private_key_jwt': 'true',
        jwksUri: '',
        tlsSubjectField: '',
        tlsSubjectValue: '',
        oin: '00000001234567890000',
      });
      assert.equal(keyed.status, 400);
      assert.match(keyed.text, /id="oin-error">[^<]*verwijder eerst sleutels zonder/);
      assert.equal((await ts.app.clients.get(clientId)).oin, null);

      const signing = await ts.createClient({ selfSignedAllowed: true });
      const res = await c.post(`/console/clients/${signing.clientId}/authentication`, {
        'authMethods.private_key_jwt': 'true',
        jwksUri: '',
        tlsSubjectField: '',
        tlsSubjectValue: '',
        oin: '',
      });
      assert.equal(res.status, 400);
      assert.match(res.text, /id="authMethods-error">Deze client mag zelf tokens ondertekenen/);
      // A form that lacks its always-sent fields changes nothing.
      const partial = await c.post(`/console/clients/${signing.clientId}/authentication`, {
        'authMethods.private_key_jwt': 'true',
      });
      assert.equal(partial.status, 400);
      assert.deepEqual((await ts.app.clients.get(signing.clientId)).authMethods, [
        'client_secret_basic',
        'client_secret_post',
      ]);
    });

    it('answers 404 for an unknown client, as the admin API does', async () => {
      const c = await consoleSignIn(ts);
      const res = await c.get('/console/clients/does-not-exist');
      assert.equal(res.status, 404);
      assert.match(res.text, /Niet gevonden/);
    });
  });
});

forEachDialect((dialect) => {
  describe(`console: audit, activity and the token inspector (${dialect})`, () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer({ dialect, env: FAST_KEYS });
    });
    after(() => ts.close());

    it('counts tokens issued and failed authentications per hour, per client and per organisation', async () => {
      const a = await ts.createClient({ rsin: '123456782' });
      const b = await ts.createClient({ rsin: '111222333' });
      for (let i = 0; i < 3; i++) await ts.token(a.clientId, a.secret);
      await ts.token(b.clientId, b.secret);
      for (let i = 0; i < 4; i++)
        await postForm(`${ts.url}/token`, {
          grant_type: 'client_credentials',
          client_id: b.clientId,
          client_secret: 'wrong-' + i,
        });
      const adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
      const res = await request(`${ts.url}/admin/activity`, { headers: { authorization: `Bearer ${adminToken}` } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.hours.length, 168);
      const last = res.json.hours.at(-1);
      assert.equal(last.issued, 5, 'a, b and the admin token just now');
      assert.equal(last.failed, 4, 'a repeated failure counts as often as it happened');
      assert.deepEqual(
        res.json.clients.find((c: { clientId: string }) => c.clientId === b.clientId),
        { clientId: b.clientId, rsin: '111222333', issued: 1, failed: 4 },
      );
      assert.deepEqual(
        res.json.organisations.find((o: { rsin: string }) => o.rsin === '123456782'),
        { rsin: '123456782', issued: 3, failed: 0 },
      );
      const one = await request(`${ts.url}/admin/activity?rsin=123456782`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      assert.deepEqual(
        one.json.clients.map((c: { clientId: string }) => c.clientId),
        [a.clientId],
      );
      const c = await consoleSignIn(ts);
      const page = await c.get(`/console/activity?client=${a.clientId}`);
      assert.equal(page.status, 200);
      assert.match(page.text, /<svg class="console-chart"[^>]*role="img"/);
      assert.equal([...page.text.matchAll(/<rect class="issued"/g)].length, 1);
    });

    it('explains refused tokens in plain words: expired, another secret, malformed; and a valid one', async () => {
      const self = await ts.createClient({ selfSignedAllowed: true, rsin: '123456782' });
      await ts.app.clients.addSecret(self.clientId, { label: 'signing' }, { id: 'test' });
      const c = await consoleSignIn(ts);
      const inspect = async (token: string) => {
        const res = await c.post('/console/inspect', { token });
        assert.equal(res.status, 200, res.text);
        return /<p class="utrecht-paragraph" id="verdict">([^<]*)</.exec(res.text)![1]!;
      };
      const valid = await ts.token(ts.admin.clientId, ts.admin.secret);
      assert.match(
        await inspect(valid),
        /^Geldig: zgw-auth accepteert dit token \(uitgegeven door zgw-auth\) van client zgw-auth-admin/,
      );
      const now = Math.floor(ts.clock.now() / 1000);
      const expired = hs256(
        { client_id: self.clientId, iss: self.clientId, iat: now - 3600, exp: now - 240 },
        'a-secret-the-client-does-not-have-000000',
      );
      assert.match(await inspect(expired), /^Geweigerd: /);
      const wrongSecret = hs256(
        { client_id: self.clientId, iss: self.clientId, iat: now, exp: now + 600 },
        'a-secret-the-client-does-not-have-000000',
      );
      assert.match(await inspect(wrongSecret), /ondertekend met een ander geheim/);
      const late = await ts.token(ts.admin.clientId, ts.admin.secret);
      ts.clock.advance(3600 + 240);
      const c2 = await consoleSignIn(ts);
      const res = await c2.post('/console/inspect', { token: late });
      assert.match(res.text, /verlopen, 4 minuten geleden/);
      const malformed = await c2.post('/console/inspect', { token: 'not-a-token' });
      assert.match(malformed.text, /Dit is geen leesbaar JWT/);
    });

    it('shows the audit trail with filters and paging', async () => {
      const c = await consoleSignIn(ts);
      const { clientId } = await ts.createClient();
      await c.post(`/console/clients/${clientId}/disable`, {});
      const page = await c.get(`/console/audit?client=${clientId}`);
      assert.equal(page.status, 200);
      const cell = (text: string) => new RegExp(`<td class="utrecht-table__cell"[^>]*>\\s*${text}\\s*</td>`);
      assert.match(page.text, cell('Client uitgeschakeld'));
      assert.match(page.text, cell('Client aangemaakt'));
      const filtered = await c.get(`/console/audit?client=${clientId}&action=client.disabled`);
      assert.match(filtered.text, cell('Client uitgeschakeld'));
      assert.doesNotMatch(filtered.text, cell('Client aangemaakt'));
    });
  });
});

forEachDialect((dialect) => {
  describe(`console: a registry of 100,000 clients (${dialect})`, () => {
    let ts: TestServer;
    before(async () => {
      ts = await startTestServer({ dialect, env: FAST_KEYS });
      const t = ts.clock.now();
      const rows = (from: number) =>
        Array.from({ length: 1000 }, (_, j) => {
          const i = from + j;
          return {
            client_id: `bulk-${String(i).padStart(6, '0')}`,
            name: `Applicatie ${i}`,
            description: '',
            rsin: i % 3 ? '123456782' : '111222333',
            enabled: i % 10 ? 1 : 0,
            grant_types: '["client_credentials"]',
            allowed_scopes: '["zaken.lezen"]',
            default_scopes: '["zaken.lezen"]',
            token_lifetime: null,
            static_claims: '{}',
            self_signed_allowed: i % 50 ? 0 : 1,
            created_at: t,
            updated_at: t,
            last_token_at: i % 4 ? t - i * 1000 : null,
          };
        });
      for (let i = 0; i < 100_000; i += 1000) await ts.app.storage.db.insertInto('clients').values(rows(i)).execute();
    });
    after(() => ts.close());

    it('serves the first page, the latest-token order, a deep page and a search quickly', async (t) => {
      const c = await consoleSignIn(ts);
      const timings: string[] = [];
      for (const [what, path, expect] of [
        ['first page', '/console/clients', /100001 clients gevonden/],
        ['latest token first', '/console/clients?sort=lastToken', /bulk-000001/],
        [
          'enabled, self-signing, one organisation',
          '/console/clients?rsin=123456782&enabled=true&selfSigned=true',
          /clients gevonden/,
        ],
        ['page 4000', '/console/clients?page=4000', /Pagina 4000 van 4001/],
        ['search', '/console/clients?q=applicatie%2099999', /1 clients gevonden/],
      ] as const) {
        await c.get(path);
        const start = performance.now();
        const res = await c.get(path);
        const ms = performance.now() - start;
        assert.equal(res.status, 200);
        assert.match(res.text, expect);
        timings.push(`${what}: ${ms.toFixed(0)} ms, ${Buffer.byteLength(res.text)} bytes`);
        assert.ok(ms < 2000, `${what} took ${ms.toFixed(0)} ms`);
      }
      t.diagnostic(timings.join('; '));
    });
  });
});
