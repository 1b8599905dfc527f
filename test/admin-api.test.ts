import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basicAuth, forEachDialect, postForm, request, startTestServer, type TestServer } from './helpers.js';

forEachDialect((dialect) => {
  describe(`admin API (${dialect})`, () => {
    let ts: TestServer;
    let adminToken: string;
    const seen: string[] = [];
    const api = async (method: string, path: string, body?: unknown, token = adminToken) => {
      const res = await request(`${ts.url}/admin${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
      });
      seen.push(res.text);
      return res;
    };
    before(async () => {
      ts = await startTestServer({ dialect });
      adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
    });
    after(() => ts.close());

    it("compiles a route's schemas on its first request, and every schema of the server compiles", async () => {
      const schemas = ts.server.deferredSchemas;
      const atStart = schemas.counts();
      // Started and gave a token: the admin API's schemas wait for their callers.
      assert.ok(atStart.waiting > 20, JSON.stringify(atStart));
      const listed = await api('GET', '/clients?limit=1');
      assert.equal(listed.status, 200, listed.text);
      // The query, coerced by the schema compiled just now, and the answer, serialized by its schema.
      assert.equal(listed.json.items.length, 1, listed.text);
      const afterList = schemas.counts();
      assert.ok(afterList.compiled >= atStart.compiled + 2, JSON.stringify({ atStart, afterList }));
      assert.equal(afterList.compiled + afterList.waiting, atStart.compiled + atStart.waiting);
      // A schema that cannot be compiled would throw here rather than answer its first caller with 500.
      schemas.compileAll();
      assert.equal(schemas.counts().waiting, 0);
    });

    it('refuses without a token (401) and with a token lacking the admin scope (403)', async () => {
      const none = await request(`${ts.url}/admin/clients`);
      assert.equal(none.status, 401);
      assert.match(String(none.headers['content-type']), /^application\/problem\+json/);
      assert.match(String(none.headers['www-authenticate']), /^Bearer realm="zgw-auth-admin"/);
      const c = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
      const res = await api('GET', '/clients', undefined, await ts.token(c.clientId, c.secret));
      assert.equal(res.status, 403);
      assert.equal(res.json.code, 'insufficient_scope');
      assert.match(String(res.headers['www-authenticate']), /error="insufficient_scope"/);
    });

    it('manages a client end to end: create, get a token, rotate the secret, revoke, disable, delete', async () => {
      const created = await api('POST', '/clients', {
        clientId: 'app-1',
        rsin: '123456782',
        name: 'Zaaksysteem',
        allowedScopes: ['zaken.lezen'],
        staticClaims: { user_id: 'sys' },
      });
      assert.equal(created.status, 201);
      assert.equal(created.json.client.clientId, 'app-1');
      assert.equal(created.json.client.rsin, '123456782');
      const first = created.json.secret.value as string;
      assert.equal(first.length, 43);
      const token = (secret: string) =>
        postForm(`${ts.url}/token`, { grant_type: 'client_credentials', client_id: 'app-1', client_secret: secret });
      assert.equal((await token(first)).status, 200);

      const added = await api('POST', '/clients/app-1/secrets', { label: 'rotation 2026' });
      assert.equal(added.status, 201);
      const second = added.json.value as string;
      assert.equal((await token(first)).status, 200, 'old secret keeps working during rotation');
      assert.equal((await token(second)).status, 200);
      await ts.app.usage.flush();
      const listed = await api('GET', '/clients/app-1/secrets');
      assert.equal(listed.json.length, 2);
      assert.ok(
        listed.json.every((s: { lastUsedAt: number | null }) => s.lastUsedAt !== null),
        'last-used time recorded',
      );
      assert.equal((await api('DELETE', `/clients/app-1/secrets/${created.json.secret.secret.secretId}`)).status, 200);
      assert.equal((await token(first)).status, 401, 'revoked secret stops at once');
      assert.equal((await token(second)).status, 200);

      const patched = await api('PATCH', '/clients/app-1', {
        name: 'Zaaksysteem 2',
        allowedScopes: ['zaken.lezen', 'zaken.schrijven'],
      });
      assert.equal(patched.status, 200);
      assert.equal(patched.json.client.name, 'Zaaksysteem 2');
      assert.equal((await api('POST', '/clients/app-1/disable')).json.enabled, false);
      assert.equal((await token(second)).status, 401);
      assert.equal((await api('POST', '/clients/app-1/enable')).json.enabled, true);
      assert.equal((await api('DELETE', '/clients/app-1')).status, 204);
      assert.equal((await api('GET', '/clients/app-1')).status, 404);

      const audit = await api('GET', '/audit?target=app-1&limit=50');
      const actions = audit.json.items.map((e: { action: string }) => e.action);
      for (const a of [
        'client.created',
        'secret.created',
        'secret.revoked',
        'client.updated',
        'client.disabled',
        'client.enabled',
        'client.deleted',
        'token.issued',
      ])
        assert.ok(actions.includes(a), a);
      assert.ok(audit.json.items.every((e: { actor: string }) => ['zgw-auth-admin', 'app-1'].includes(e.actor)));
    });

    it('lists with paging and filters by RSIN, enabled and text', async () => {
      for (let i = 0; i < 5; i++)
        await api('POST', '/clients', {
          clientId: `list-${i}`,
          rsin: i % 2 ? '111222333' : '000000000',
          enabled: i !== 4,
        });
      const page = await api('GET', '/clients?q=list-&limit=2&offset=0');
      assert.equal(page.json.total, 5);
      assert.equal(page.json.items.length, 2);
      assert.equal((await api('GET', '/clients?q=LIST-&rsin=111222333')).json.total, 2);
      assert.equal((await api('GET', '/clients?q=list-&enabled=false')).json.total, 1);
    });

    it('imports a secret with a weakness warning and never echoes it', async () => {
      await api('POST', '/clients', { clientId: 'legacy', rsin: '000000000' });
      const res = await api('POST', '/clients/legacy/secrets', { value: 'short-secret' });
      assert.equal(res.status, 201);
      assert.equal(res.json.value, undefined);
      assert.ok(res.json.warnings.some((w: string) => /weak secret/.test(w)));
      assert.equal(
        (
          await postForm(`${ts.url}/token`, {
            grant_type: 'client_credentials',
            client_id: 'legacy',
            client_secret: 'short-secret',
          })
        ).status,
        200,
      );
    });

    it('says that switching self-signing on needs a new secret', async () => {
      await api('POST', '/clients', { clientId: 'to-self-sign', rsin: '000000000' });
      const res = await api('PATCH', '/clients/to-self-sign', { selfSignedAllowed: true });
      assert.equal(res.status, 200);
      assert.match(res.json.warnings[0], /need a new secret/);
      const added = await api('POST', '/clients/to-self-sign/secrets', {});
      assert.equal(added.json.secret.usableForSelfSigned, true);
    });

    it('refuses self-signing for a client bound to DPoP or its certificate, naming the field (400)', async () => {
      await api('POST', '/clients', { clientId: 'bound-later', rsin: '000000000', selfSignedAllowed: true });
      const res = await api('PATCH', '/clients/bound-later', { tlsClientCertificateBoundAccessTokens: true });
      assert.equal(res.status, 400, res.text);
      assert.match(res.json.detail, /sender-constrained tokens only.*bearer token/);
      assert.equal(res.json.invalidParams?.[0]?.name, 'tlsClientCertificateBoundAccessTokens');
      const off = await api('PATCH', '/clients/bound-later', {
        tlsClientCertificateBoundAccessTokens: true,
        selfSignedAllowed: false,
      });
      assert.equal(off.status, 200, off.text);
      const again = await api('PATCH', '/clients/bound-later', { selfSignedAllowed: true });
      assert.equal(again.status, 400, again.text);
      assert.equal(again.json.invalidParams?.[0]?.name, 'selfSignedAllowed');
    });

    it('refuses bad input with a clear problem document and stores nothing', async () => {
      // [body, detail, the field invalidParams names]: the schema's refusals name the field and, for a
      // pattern, the rule in the registry's words, like the registry's own refusals.
      const cases: Array<[unknown, RegExp, string?]> = [
        [{ clientId: 'x'.repeat(51), rsin: '000000000' }, /clientId|50/, 'clientId'],
        [{ clientId: 'bad-rsin', rsin: '123456789' }, /not a valid RSIN/, 'rsin'],
        [{ clientId: 'bad-rsin-form', rsin: '12345678x' }, /rsin is not a valid RSIN \(9 digits/, 'rsin'],
        [
          { clientId: 'bad scope', rsin: '000000000' },
          /clientId is not a valid client id \(1-50 characters/,
          'clientId',
        ],
        [{ clientId: 'bad-scope', rsin: '000000000', allowedScopes: ['a b'] }, /not a valid scope/, 'allowedScopes'],
        [
          { clientId: 'bad-grant', rsin: '000000000', grantTypes: ['password'] },
          /grantTypes\/0 must be equal to one of the allowed values/,
          'grantTypes',
        ],
        [
          { clientId: 'bad-default', rsin: '000000000', allowedScopes: ['a'], defaultScopes: ['b'] },
          /default scopes/,
          'defaultScopes',
        ],
        [{ clientId: 'unknown-field', rsin: '000000000', secret: 'x' }, /additional properties: "secret"/, 'secret'],
        [
          { clientId: 'bound-self-signing', rsin: '000000000', selfSignedAllowed: true, dpopBoundAccessTokens: true },
          /dpopBoundAccessTokens gets sender-constrained tokens only.*bearer token/,
          'dpopBoundAccessTokens',
        ],
        [{ clientId: 'no-rsin' }, /must have required property 'rsin'/, 'rsin'],
        ['{"clientId": "broken', /JSON|Body/i],
      ];
      const before = (await api('GET', '/clients?limit=1')).json.total;
      for (const [body, message, field] of cases) {
        const res = await api('POST', '/clients', body);
        assert.equal(res.status, 400, res.text);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        assert.match(res.json.detail, message);
        if (field) assert.equal(res.json.invalidParams?.[0]?.name, field, res.text);
      }
      assert.equal((await api('GET', '/clients?limit=1')).json.total, before);
      assert.equal((await api('POST', '/clients', { clientId: 'dup', rsin: '000000000' })).status, 201);
      assert.equal((await api('POST', '/clients', { clientId: 'dup', rsin: '000000000' })).status, 409);
      assert.equal((await api('PATCH', '/clients/nobody', { name: 'x' })).status, 404);
    });

    it('refuses NUL and control characters in bodies, paths and queries, and numbers beyond range, with 400', async () => {
      await api('POST', '/clients', { clientId: 'nul-target', rsin: '000000000' });
      const before = await ts.app.storage.db
        .selectFrom('clients')
        .selectAll()
        .where('client_id', '=', 'nul-target')
        .execute();
      const cases: Array<[string, string, unknown?]> = [
        ['POST', '/clients', { clientId: 'nul-name', rsin: '000000000', description: 'a\u0000b' }],
        ['POST', '/clients', { clientId: 'nul\u0000id', rsin: '000000000' }],
        ['POST', '/clients', { clientId: 'nul-claims', rsin: '000000000', staticClaims: { user_id: 'x\u0000' } }],
        ['PATCH', '/clients/nul-target', { description: '\u0000' }],
        ['PATCH', '/clients/nul-target', { name: 'zaaksysteem \u202e nimda' }],
        ['PATCH', '/clients/nul-target', { description: 'c1 \u009b31m' }],
        ['POST', '/clients/nul-target/secrets', { label: 'zero\u200bwidth' }],
        ['POST', '/clients/nul-target/secrets', { label: 'x\u0000' }],
        ['POST', '/clients/nul-target/secrets', { expiresAt: 1e300 }],
        ['POST', '/clients/nul-target/secrets', { expiresAt: 1e16 }],
        ['GET', '/clients/nul%00target'],
        ['DELETE', '/clients/nul-target/secrets/sec_%00'],
        ['GET', '/clients?q=%00'],
        ['GET', '/audit?target=nul%00&since=1e300'],
        ['GET', '/audit?actor=%01'],
        // Numerals past the range of doubles: Infinity to the validator, whose bounds it then passes.
        ['GET', '/clients?limit=1e400'],
        ['GET', '/clients?offset=-1e400'],
        ['GET', '/audit?limit=Infinity'],
        ['GET', `/audit?before=${'9'.repeat(400)}`],
        ['GET', '/expiring?within_days=1e400'],
        ['POST', '/clients/nul-target/secrets', { expiresAt: '1e400' }],
      ];
      for (const [method, path, body] of cases) {
        const res = await api(method, path, body);
        assert.equal(res.status, 400, `${method} ${path}: ${res.status} ${res.text}`);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      }
      const nul = await postForm(`${ts.url}/token`, {
        grant_type: 'client_credentials',
        client_id: 'nul\u0000',
        client_secret: 'x',
      });
      assert.equal(nul.status, 400, nul.text);
      assert.equal(nul.json.error, 'invalid_request');
      const basic = await request(`${ts.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('nul%00:x').toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      assert.equal(basic.status, 400, basic.text);
      const self = await postForm(
        `${ts.url}/introspect`,
        {
          token: `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('{"client_id":"a\u0000","iat":1}').toString('base64url')}.c2ln`,
        },
        { authorization: basicAuth(ts.admin.clientId, ts.admin.secret) },
      );
      assert.deepEqual(self.json, { active: false });
      assert.ok(!ts.logs.some((l) => l.includes('"level":50')), 'no error logged');
      assert.deepEqual(
        await ts.app.storage.db.selectFrom('clients').selectAll().where('client_id', '=', 'nul-target').execute(),
        before,
      );
    });

    it('serves a browsable OpenAPI 3 document', async () => {
      const doc = await request(`${ts.url}/admin/openapi.json`);
      assert.equal(doc.status, 200);
      assert.match(doc.json.openapi, /^3\./);
      assert.ok(doc.json.paths['/admin/clients']);
      // camelCase throughout; the two binding flags say which registration metadata they are.
      const schemas = Object.values(doc.json.components.schemas) as {
        title?: string;
        properties?: Record<string, { description?: string }>;
      }[];
      const client = schemas.find((x) => x.properties?.clientId && x.properties.dpopBoundAccessTokens)!.properties!;
      assert.match(client.dpopBoundAccessTokens!.description!, /`dpop_bound_access_tokens` of RFC 9449 §5\.2/);
      assert.match(
        client.tlsClientCertificateBoundAccessTokens!.description!,
        /`tls_client_certificate_bound_access_tokens` of RFC 8705 §3\.4/,
      );
      assert.match(
        JSON.stringify(
          doc.json.paths['/admin/clients'].patch?.requestBody ?? doc.json.paths['/admin/clients/{clientId}'],
        ),
        /tls_client_certificate_bound_access_tokens/,
        'the update body says it too',
      );
      const ui = await request(`${ts.url}/admin/docs/`);
      assert.equal(ui.status, 200);
      assert.match(ui.text, /swagger/i);
    });

    it('rotates keys through the API', async () => {
      const res = await api('POST', '/keys/rotate', { publishDelay: 0 });
      assert.equal(res.status, 200);
      const keys = await api('GET', '/keys');
      assert.equal(keys.json.items.find((k: { kid: string }) => k.kid === res.json.kid).state, 'active');
    });

    it('never shows secret material after creation, in any response or log line', async () => {
      const secrets = [ts.admin.secret];
      const c = await api('POST', '/clients', { clientId: 'leak-check', rsin: '000000000', selfSignedAllowed: true });
      secrets.push(c.json.secret.value);
      const start = seen.length;
      await postForm(`${ts.url}/token`, {
        grant_type: 'client_credentials',
        client_id: 'leak-check',
        client_secret: secrets[1]!,
      });
      await postForm(`${ts.url}/token`, {
        grant_type: 'client_credentials',
        client_id: 'leak-check',
        client_secret: 'wrong-' + secrets[1],
      });
      await api('GET', '/clients/leak-check');
      await api('GET', '/clients/leak-check/secrets');
      await api('GET', '/audit?limit=1000');
      await api('GET', '/clients?limit=1000');
      const rows = await ts.app.storage.db.selectFrom('client_secrets').select(['hash', 'sealed']).execute();
      const material = [
        ...secrets,
        ...rows.map((r) => r.hash),
        ...rows.flatMap((r) => (r.sealed ? [r.sealed.split('.')[2]!] : [])),
      ];
      const haystack = seen.slice(start).join('\n') + ts.logs.join('\n');
      for (const m of material) assert.ok(!haystack.includes(m), 'secret material leaked');
      assert.ok(ts.logs.length > 0, 'logs were captured');
    });
  });
});
