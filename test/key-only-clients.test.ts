import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp, createLogger } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { applyMigrationPlan } from '../src/migrate/apply-migration-plan.js';
import { parseKeycloakRealm } from '../src/migrate/parse-keycloak-realm.js';
import { exportRegistry, importRegistry } from '../src/transfer/registry-transfer.js';
import {
  basicAuth,
  forEachDialect,
  freshPostgres,
  hs256,
  postForm,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';

/**
 * A client registered for keys or certificates only has no secret at all: none is generated,
 * stored or returned, and every path that reads secrets (token, introspection, self-signed tokens,
 * the console's sign-in, secret rotation, export and import) answers "no secret" with a refusal,
 * never a 5xx. Adding a secret method later says how to get a secret; the secret is created
 * (and shown once) by rotation.
 */
forEachDialect((dialect) => {
  describe(`a client without a secret method (${dialect})`, () => {
    let ts: TestServer;
    let adminToken: string;
    let introspector: { clientId: string; secret: string };
    const masterKey = Buffer.alloc(32, 7).toString('base64');
    const admin = (method: string, url: string, body?: unknown) =>
      request(`${ts.url}/admin${url}`, {
        method,
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    const selfSigned = (clientId: string, secret: string) => {
      const iat = Math.floor(ts.clock.now() / 1000);
      return hs256({ iss: clientId, client_id: clientId, iat, exp: iat + 300, user_id: 'u' }, secret);
    };

    before(async () => {
      ts = await startTestServer({ dialect, masterKey });
      adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
      introspector = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
    });
    after(() => ts?.close());

    it('is created without a secret through the admin API: none in the answer, none stored', async () => {
      const res = await admin('POST', '/clients', {
        clientId: 'keys-admin',
        rsin: '000000000',
        authMethods: ['private_key_jwt', 'tls_client_auth'],
        tlsSubject: { field: 'san_dns', value: 'keys-admin.example.nl' },
        allowedScopes: ['zgw-auth:admin'],
      });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(Object.keys(res.json), ['client'], 'no secret member');
      assert.deepEqual((await admin('GET', '/clients/keys-admin/secrets')).json, []);
      const rows = await ts.app.storage.db
        .selectFrom('client_secrets')
        .select('secret_id')
        .where('client_id', '=', 'keys-admin')
        .execute();
      assert.deepEqual(rows, []);
    });

    it('refuses secret rotation with invalid_input naming authMethods and saying what to do', async () => {
      const res = await admin('POST', '/clients/keys-admin/secrets', { label: 'try' });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.code, 'invalid_input');
      assert.equal(res.json.invalidParams[0].name, 'authMethods');
      assert.match(res.json.detail, /authenticates without a secret .*add client_secret_basic or client_secret_post/);
    });

    it('answers every secret that is presented for it with invalid_client or an inactive token, never a 5xx', async () => {
      const guess = 'G'.repeat(43);
      const token = await postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth('keys-admin', guess) },
      );
      assert.equal(token.status, 401, token.text);
      assert.equal(token.json.error, 'invalid_client');
      const [failure] = await ts.app.audit.list({ action: 'client_auth.failed', target: 'keys-admin', limit: 1 });
      assert.equal(failure?.reason, 'method_not_allowed', 'audited as a client that takes no secret');
      const empty = await postForm(`${ts.url}/token`, {
        grant_type: 'client_credentials',
        client_id: 'keys-admin',
        client_secret: '',
      });
      assert.ok(empty.status === 400 || empty.status === 401, empty.text);
      // A self-signed HS256 token in its name: no secret verifies it.
      const forged = selfSigned('keys-admin', guess);
      const introspected = await postForm(
        `${ts.url}/introspect`,
        { token: forged },
        { authorization: basicAuth(introspector.clientId, introspector.secret) },
      );
      assert.equal(introspected.status, 200, introspected.text);
      assert.deepEqual(introspected.json, { active: false });
      const asAdmin = await request(`${ts.url}/admin/clients`, { headers: { authorization: `Bearer ${forged}` } });
      assert.equal(asAdmin.status, 401, asAdmin.text);
      assert.equal(asAdmin.json.code, 'invalid_token');
      // The console signs in with a secret only: refused as any wrong secret is.
      const signIn = await postForm(
        `${ts.url}/console/sign-in`,
        { client_id: 'keys-admin', client_secret: guess },
        { origin: ts.url },
      );
      assert.ok(signIn.status >= 400 && signIn.status < 500, `${signIn.status}`);
      assert.match(signIn.text, /Aanmelden mislukt/);
    });

    it('a secret method added later says how to get a secret; rotation creates it once; removing the method revokes it', async () => {
      const added = await admin('PATCH', '/clients/keys-admin', {
        authMethods: ['private_key_jwt', 'client_secret_basic'],
      });
      assert.equal(added.status, 200, added.text);
      assert.equal(added.json.warnings.length, 1);
      assert.match(added.json.warnings[0], /has none: create one .*POST \/admin\/clients\/keys-admin\/secrets/);
      const rotated = await admin('POST', '/clients/keys-admin/secrets', { label: 'now' });
      assert.equal(rotated.status, 201, rotated.text);
      const secret = rotated.json.value as string;
      assert.equal((await admin('GET', '/clients/keys-admin/secrets')).json.length, 1);
      assert.equal(
        (
          await postForm(
            `${ts.url}/token`,
            { grant_type: 'client_credentials' },
            { authorization: basicAuth('keys-admin', secret) },
          )
        ).status,
        200,
      );

      const removed = await admin('PATCH', '/clients/keys-admin', { authMethods: ['private_key_jwt'] });
      assert.equal(removed.status, 200, removed.text);
      assert.match(
        removed.json.warnings.join(' '),
        /no longer authenticates with a secret: its secrets sec_\S+ are revoked/,
      );
      const [listed] = (await admin('GET', '/clients/keys-admin/secrets')).json as { revokedAt: number | null }[];
      assert.notEqual(listed?.revokedAt, null);
      // Back to secrets: the revoked one stays revoked; a new one is needed again.
      const back = await admin('PATCH', '/clients/keys-admin', { authMethods: ['client_secret_basic'] });
      assert.match(back.json.warnings.join(' '), /has none: create one/);
      const again = await postForm(
        `${ts.url}/token`,
        { grant_type: 'client_credentials' },
        { authorization: basicAuth('keys-admin', secret) },
      );
      assert.equal(again.status, 401, again.text);
      await admin('PATCH', '/clients/keys-admin', { authMethods: ['private_key_jwt'] });
    });

    it('a migration file that brings a secret for it: reported for attention, no secret added', async () => {
      await ts.app.clients.create(
        { clientId: 'keys-migrated', rsin: '000000000', authMethods: ['private_key_jwt'] },
        { id: 'test' },
      );
      const plan = parseKeycloakRealm(
        {
          realm: 'OneGround',
          clients: [
            {
              clientId: 'keys-migrated',
              name: 'keys-migrated',
              enabled: true,
              clientAuthenticatorType: 'client-secret',
              secret: 'from-keycloak-Qx7Vm2Kp9Lz4Rt8Wb3Nc6Hd1',
              publicClient: false,
              bearerOnly: false,
              serviceAccountsEnabled: true,
              protocol: 'openid-connect',
              attributes: {},
            },
          ],
        },
        { rsin: '000000000', selfSigned: false, now: ts.clock.now() },
      );
      const report = await applyMigrationPlan(ts.app.clients, plan, {
        dryRun: false,
        allowWeakSecrets: false,
        actor: { id: 'cli' },
        tokenLifetime: ts.config.tokenLifetime,
        maxTokenLifetime: ts.config.maxTokenLifetime,
        now: ts.clock.now,
      });
      const [entry] = report.clients;
      assert.equal(entry?.status, 'attention');
      assert.match(entry?.reasons?.join(' ') ?? '', /authenticates without a secret here \(private_key_jwt\)/);
      assert.deepEqual(await ts.app.clients.listSecrets('keys-migrated'), [], 'no secret taken from the file');
    });

    it('exports and imports without a secret, and stays without one', async () => {
      await ts.app.clients.create(
        {
          clientId: 'certs-only',
          rsin: '000000000',
          authMethods: ['tls_client_auth'],
          tlsSubject: { field: 'san_dns', value: 'c.example.nl' },
        },
        { id: 'test' },
      );
      const exported = JSON.parse(JSON.stringify(await exportRegistry(ts.app.transfer))) as {
        tables: Record<string, Array<Record<string, unknown>>>;
      };
      assert.deepEqual(
        exported.tables.client_secrets!.filter((r) => r.client_id === 'certs-only'),
        [],
      );
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-key-only-'));
      const pgdb = dialect === 'postgres' ? await freshPostgres() : undefined;
      const target = await createApp(
        loadConfig({
          ZGW_AUTH_DATA_DIR: dataDir,
          ZGW_AUTH_MASTER_KEY: masterKey,
          ...(pgdb ? { DATABASE_URL: pgdb.url } : {}),
        }),
        { log: createLogger('warn') },
      );
      try {
        await importRegistry(target.transfer, exported);
        assert.deepEqual((await target.clients.get('certs-only')).authMethods, ['tls_client_auth']);
        assert.deepEqual(await target.clients.listSecrets('certs-only'), []);
        await assert.rejects(
          target.clients.addSecret('certs-only', {}, { id: 'test' }),
          /authenticates without a secret/,
        );
        const found = await target.authenticator.authenticate('certs-only', 'x'.repeat(43));
        assert.equal(found.ok, false);
      } finally {
        await target.close();
        await pgdb?.drop();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
});
