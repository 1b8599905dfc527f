import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type App, createApp, createLogger } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { exportRegistry, importRegistry } from '../src/transfer/registry-transfer.js';
import {
  basicAuth,
  CLI,
  type DialectName,
  freshPostgres,
  hs256,
  migratedPostgres,
  postForm,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';

const run = promisify(execFile);
// RSINs passing the 11-test.
const A = '123456782';
const B = '111222333';
const UNKNOWN = '999999990';
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-orgs-'));

/**
 * A registry of the dialect, created empty (no first-start admin), with the given master key. On
 * PostgreSQL a copy of the migrated template: the migrations are not what these tests are about.
 */
async function emptyApp(dialect: DialectName, masterKey: string): Promise<{ app: App; close: () => Promise<void> }> {
  const pgdb = dialect === 'postgres' ? await migratedPostgres() : undefined;
  const config = loadConfig({
    ZGW_AUTH_DATA_DIR: tempDir(),
    ZGW_AUTH_MASTER_KEY: masterKey,
    ...(pgdb ? { DATABASE_URL: pgdb.url } : {}),
  });
  const app = await createApp(config, { log: createLogger('warn') });
  return { app, close: async () => (await app.close(), await pgdb?.drop()) };
}

/** The tests of this file for one dialect: each dialect runs as a test file of its own (organisations-sqlite, organisations-postgres), so that they run in parallel. */
export function organisationsTests(dialect: DialectName): void {
  describe(`organisations: admin API (${dialect})`, () => {
    const masterKey = crypto.randomBytes(32).toString('base64');
    let ts: TestServer;
    let adminToken: string;
    const api = async (method: string, url: string, body?: unknown, token = adminToken) =>
      request(`${ts.url}/admin${url}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    const organisationEvents = async () =>
      (await ts.app.audit.list({ limit: 1000 })).filter((e) => e.action.startsWith('organisation.'));
    before(async () => {
      ts = await startTestServer({ dialect, masterKey });
      adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
    });
    after(() => ts.close());

    it('is for holders of the admin scope only: 401 without a token, 403 without the scope, nothing created', async () => {
      const before = (await ts.app.organisations.list({ limit: 10, offset: 0 })).total;
      const none = await request(`${ts.url}/admin/organisations`);
      assert.equal(none.status, 401);
      const c = await ts.createClient({ allowedScopes: ['zaken.lezen'] });
      const other = await ts.token(c.clientId, c.secret);
      assert.equal((await api('GET', '/organisations', undefined, other)).status, 403);
      assert.equal((await api('POST', '/organisations', { rsin: A, name: 'x' }, other)).status, 403);
      assert.equal((await api('POST', `/organisations/${A}/disable`, undefined, other)).status, 403);
      assert.equal((await ts.app.organisations.list({ limit: 10, offset: 0 })).total, before);
      await assert.rejects(ts.app.organisations.get(A), /does not exist/);
    });

    it('creates, shows and lists with client counts, renames, disables and enables; every change audited with the admin as actor', async () => {
      const created = await api('POST', '/organisations', { rsin: A, name: 'Gemeente Voorbeeld' });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(Object.keys(created.json).sort(), ['createdAt', 'enabled', 'name', 'rsin', 'updatedAt']);
      assert.deepEqual(
        { rsin: created.json.rsin, name: created.json.name, enabled: created.json.enabled },
        { rsin: A, name: 'Gemeente Voorbeeld', enabled: true },
      );
      await ts.createClient({ rsin: A });
      await ts.createClient({ rsin: A, enabled: false });
      assert.equal((await api('POST', '/organisations', { rsin: B, name: 'Waterschap Beta' })).status, 201);
      await ts.createClient({ rsin: B });

      const shown = await api('GET', `/organisations/${A}`);
      assert.equal(shown.status, 200);
      assert.deepEqual(shown.json, { ...created.json, clientCount: 2, enabledClientCount: 1 });

      // The first-start administrator's organisation (000000000) was registered with it.
      const listed = await api('GET', '/organisations');
      assert.equal(listed.status, 200);
      assert.equal(listed.json.total, 3);
      assert.deepEqual(
        listed.json.items
          .map((o: { rsin: string; clientCount: number; enabledClientCount: number }) => [
            o.rsin,
            o.clientCount,
            o.enabledClientCount,
          ])
          .slice(1),
        [
          [B, 1, 1],
          [A, 2, 1],
        ],
      );
      assert.equal(listed.json.items[0].rsin, '000000000');
      const paged = await api('GET', '/organisations?limit=1&offset=2');
      assert.deepEqual([paged.json.items.map((o: { rsin: string }) => o.rsin), paged.json.total], [[A], 3]);
      assert.deepEqual(
        (await api('GET', '/organisations?q=voorbeeld')).json.items.map((o: { rsin: string }) => o.rsin),
        [A],
      );

      const renamed = await api('PATCH', `/organisations/${A}`, { name: 'Gemeente Voorbeeld-Oost' });
      assert.equal(renamed.status, 200);
      assert.equal(renamed.json.name, 'Gemeente Voorbeeld-Oost');
      const disabled = await api('POST', `/organisations/${A}/disable`);
      assert.equal(disabled.status, 200);
      assert.equal(disabled.json.enabled, false);
      assert.equal((await api('GET', `/organisations/${A}`)).json.enabled, false);
      assert.deepEqual(
        (await api('GET', '/organisations?enabled=false')).json.items.map((o: { rsin: string }) => o.rsin),
        [A],
      );
      const enabled = await api('POST', `/organisations/${A}/enable`);
      assert.equal(enabled.json.enabled, true);
      assert.equal((await ts.app.organisations.get(A)).name, 'Gemeente Voorbeeld-Oost', 'stored, not only answered');

      const audit = await api('GET', `/audit?target=${A}`);
      const events = audit.json.items as Array<{
        action: string;
        actor: string;
        address: string | null;
        details: { before?: { name: string }; after: { name: string; enabled: boolean } };
      }>;
      assert.deepEqual(
        events.map((e) => e.action),
        ['organisation.enabled', 'organisation.disabled', 'organisation.updated', 'organisation.created'],
      );
      assert.ok(events.every((e) => e.actor === ts.admin.clientId && e.address === '127.0.0.1'));
      assert.deepEqual(
        [events[2]!.details.before!.name, events[2]!.details.after.name],
        ['Gemeente Voorbeeld', 'Gemeente Voorbeeld-Oost'],
      );
      assert.equal(events[1]!.details.after.enabled, false);
    });

    it('refuses bad input with 400 naming the field, unknown with 404 and a duplicate with 409, changing nothing', async () => {
      const before = JSON.stringify((await api('GET', '/organisations?limit=1000')).json);
      const eventsBefore = (await organisationEvents()).length;
      const invalid = async (method: string, url: string, body: unknown, field?: string) => {
        const res = await api(method, url, body);
        assert.equal(res.status, 400, `${method} ${url} ${JSON.stringify(body)}: ${res.text}`);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        assert.equal(res.json.code, 'invalid_input');
        if (field) assert.equal(res.json.invalidParams?.[0]?.name, field, res.text);
      };
      await invalid('POST', '/organisations', { rsin: '123456789', name: 'x' }, 'rsin');
      await invalid('POST', '/organisations', { rsin: '12345678', name: 'x' }, 'rsin');
      await invalid('POST', '/organisations', { rsin: '1234567820', name: 'x' });
      await invalid('POST', '/organisations', { rsin: '002220647', name: 'a\nb' }, 'name');
      await invalid('POST', '/organisations', { rsin: '002220647', name: '   ' }, 'name');
      await invalid('POST', '/organisations', { rsin: '002220647', name: 'a\u202eb' }, 'name');
      await invalid('POST', '/organisations', { rsin: '002220647', name: '' });
      await invalid('POST', '/organisations', { rsin: '002220647', name: 'x'.repeat(201) });
      await invalid('POST', '/organisations', { rsin: '002220647' });
      await invalid('POST', '/organisations', { rsin: '002220647', name: 'x', enabled: false });
      await invalid('PATCH', `/organisations/${A}`, { name: 'a\tb' }, 'name');
      await invalid('PATCH', `/organisations/${A}`, {});
      await invalid('GET', '/organisations/123456789', undefined, 'rsin');
      await invalid('POST', '/organisations/12345678x/disable', undefined, 'rsin');
      await invalid('GET', '/organisations?limit=0', undefined);
      await invalid('GET', '/organisations?limit=1001', undefined);
      for (const [method, url, body] of [
        ['GET', `/organisations/${UNKNOWN}`],
        ['PATCH', `/organisations/${UNKNOWN}`, { name: 'x' }],
        ['POST', `/organisations/${UNKNOWN}/disable`],
        ['POST', `/organisations/${UNKNOWN}/enable`],
      ] as const) {
        const res = await api(method, url, body);
        assert.equal(res.status, 404, `${method} ${url}`);
        assert.equal(res.json.code, 'not_found');
      }
      const duplicate = await api('POST', '/organisations', { rsin: A, name: 'Someone else' });
      assert.equal(duplicate.status, 409);
      assert.equal(duplicate.json.code, 'conflict');
      assert.equal(JSON.stringify((await api('GET', '/organisations?limit=1000')).json), before);
      assert.equal((await organisationEvents()).length, eventsBefore);
      assert.equal((await ts.app.organisations.get(A)).name, 'Gemeente Voorbeeld-Oost');
    });

    it('the OpenAPI document describes the organisation routes', async () => {
      const doc = (await request(`${ts.url}/admin/openapi.json`)).json;
      for (const p of [
        '/admin/organisations',
        '/admin/organisations/{rsin}',
        '/admin/organisations/{rsin}/disable',
        '/admin/organisations/{rsin}/enable',
      ])
        assert.ok(doc.paths[p], p);
      assert.ok(doc.paths['/admin/organisations'].post.requestBody, 'create body documented');
    });

    it('a change of an organisation makes this process read its clients afresh instead of from memory', async () => {
      const c = await ts.createClient({ rsin: B });
      // Looked up twice, the client is held in memory (the test clock stands still, so it stays there).
      for (let i = 0; i < 2; i++)
        assert.equal((await ts.app.authenticator.authenticate(c.clientId, c.secret)).ok, true);
      // Changed behind the service's back: nothing announces it.
      await ts.app.storage.db.updateTable('clients').set({ enabled: 0 }).where('client_id', '=', c.clientId).execute();
      assert.equal(
        (await ts.app.authenticator.authenticate(c.clientId, c.secret)).ok,
        true,
        'still served from memory',
      );
      assert.equal((await api('PATCH', `/organisations/${B}`, { name: 'Waterschap Beta-Noord' })).status, 200);
      assert.deepEqual(await ts.app.authenticator.authenticate(c.clientId, c.secret), {
        ok: false,
        reason: 'disabled_client',
        secretId: (await ts.app.clients.listSecrets(c.clientId))[0]!.secretId,
        rsin: B,
      });
    });

    it("a registry export carries its organisations, held to today's rules on import; an export of an earlier version gets its clients' RSINs as organisations", async () => {
      const data = await exportRegistry(ts.app.transfer);
      const exported = data.tables.organisations as Array<{ rsin: string; name: string; enabled: number }>;
      assert.deepEqual(
        exported.map((o) => [o.rsin, o.name]).sort(),
        [
          ['000000000', '000000000'],
          [B, 'Waterschap Beta-Noord'],
          [A, 'Gemeente Voorbeeld-Oost'],
        ].sort(),
      );
      const full = await emptyApp(dialect, masterKey);
      try {
        await importRegistry(full.app.transfer, data);
        const { items } = await full.app.organisations.list({ limit: 100, offset: 0 });
        assert.deepEqual(
          items.map((o) => [o.rsin, o.name]),
          [
            ['000000000', '000000000'],
            [B, 'Waterschap Beta-Noord'],
            [A, 'Gemeente Voorbeeld-Oost'],
          ],
        );
        assert.equal(
          (await full.app.audit.list({ action: 'organisation.created', limit: 100 })).length,
          3,
          'the audit trail came along; nothing was added',
        );
      } finally {
        await full.close();
      }
      const { organisations: _dropped, ...earlierTables } = data.tables;
      const earlier = await emptyApp(dialect, masterKey);
      try {
        await importRegistry(earlier.app.transfer, {
          ...data,
          tables: earlierTables as typeof data.tables,
        });
        const { items } = await earlier.app.organisations.list({ limit: 100, offset: 0 });
        assert.deepEqual(
          items.map((o) => [o.rsin, o.name, o.enabled, o.clientCount]),
          [
            ['000000000', '000000000', true, 2],
            [B, B, true, 2],
            [A, A, true, 2],
          ],
        );
        // Registered as creating a client would register them: audited, under their own RSIN.
        const ensured = (await earlier.app.audit.list({ action: 'organisation.created', limit: 100 })).filter(
          (e) => e.details.imported === true,
        );
        assert.deepEqual(ensured.map((e) => [e.target, e.organisation, e.actor, e.details.ensured]).sort(), [
          ['000000000', '000000000', 'system', true],
          [B, B, 'system', true],
          [A, A, 'system', true],
        ]);
        // The next event gets an id past the imported ones.
        await earlier.app.audit.record({ actor: 'test', action: 'x', target: 'y', details: {} });
        const ids = (await earlier.app.audit.list({ limit: 1000 })).map((e) => e.id);
        assert.equal(new Set(ids).size, ids.length);
      } finally {
        await earlier.close();
      }
      const tampered = {
        ...data,
        tables: { ...data.tables, organisations: [{ ...exported[0]!, name: 'Gemeente\u202e' }] },
      };
      const target = await emptyApp(dialect, masterKey);
      try {
        await assert.rejects(
          importRegistry(target.app.transfer, tampered),
          /organisation "\d{9}": name: 1-200 characters/,
        );
        assert.equal((await target.app.clients.list({ limit: 1, offset: 0 })).total, 0, 'nothing imported');
      } finally {
        await target.close();
      }
    });
    it('a disabled organisation stops every token of its clients at once (issuance, introspection, self-signed, admin), audited; enabling restores them', async () => {
      const C = '002220647';
      assert.equal((await api('POST', '/organisations', { rsin: C, name: 'Gemeente Gamma' })).status, 201);
      const introspector = await ts.createClient({ allowedScopes: ['zgw-auth:introspect'] });
      const app = await ts.createClient({ rsin: C, allowedScopes: ['zaken.lezen'], selfSignedAllowed: true });
      const orgAdmin = await ts.createClient({ rsin: C, allowedScopes: ['zgw-auth:org-admin'] });
      const neighbour = await ts.createClient({ rsin: B, allowedScopes: ['zaken.lezen'] });
      const tokenOf = (c: { clientId: string; secret: string }) =>
        postForm(`${ts.url}/token`, {
          grant_type: 'client_credentials',
          client_id: c.clientId,
          client_secret: c.secret,
        });
      const active = async (token: string) =>
        (
          await postForm(
            `${ts.url}/introspect`,
            { token },
            { authorization: basicAuth(introspector.clientId, introspector.secret) },
          )
        ).json.active as boolean;
      const issued = (await tokenOf(app)).json.access_token as string;
      const selfSigned = hs256({ client_id: app.clientId, iat: Math.floor(ts.clock.now() / 1000) }, app.secret);
      const adminToken = (await tokenOf(orgAdmin)).json.access_token as string;
      // Each verified once and looked up twice: served from memory when the organisation is disabled.
      for (let i = 0; i < 2; i++) {
        assert.equal((await tokenOf(app)).status, 200);
        assert.deepEqual([await active(issued), await active(selfSigned)], [true, true]);
        assert.equal((await api('GET', '/clients', undefined, adminToken)).status, 200);
      }

      assert.equal((await api('POST', `/organisations/${C}/disable`)).status, 200);
      const refused = await tokenOf(app);
      assert.equal(refused.status, 401);
      assert.equal(refused.json.error, 'invalid_client', 'the answer of any failed client authentication');
      assert.deepEqual([await active(issued), await active(selfSigned)], [false, false]);
      const asAdmin = await api('GET', '/clients', undefined, adminToken);
      assert.equal(asAdmin.status, 401);
      assert.match(String(asAdmin.headers['www-authenticate']), /error="invalid_token"/);
      assert.equal((await tokenOf(neighbour)).status, 200, 'other organisations are not affected');
      const stored = await ts.app.clients.get(app.clientId);
      assert.equal(stored.enabled, true, 'the clients keep their own state: enabling the organisation restores it');
      const [failure] = await ts.app.audit.list({
        action: 'client_auth.failed',
        target: app.clientId,
        reason: 'disabled_organisation',
      });
      assert.deepEqual([failure?.reason, failure?.organisation], ['disabled_organisation', C]);

      assert.equal((await api('POST', `/organisations/${C}/enable`)).status, 200);
      assert.equal((await tokenOf(app)).status, 200);
      assert.deepEqual([await active(issued), await active(selfSigned)], [true, true]);
      assert.equal((await api('GET', '/clients', undefined, adminToken)).status, 200);
    });

    it('the first-start administrator has its organisation; creating a client for a new RSIN registers one, audited with the creator', async () => {
      const first = await ts.app.organisations.get('000000000');
      assert.equal(first.name, '000000000');
      const D = '123123124';
      assert.ok((await api('POST', '/clients', { clientId: 'first-of-d', rsin: D })).status === 201);
      const created = await ts.app.organisations.get(D);
      assert.deepEqual([created.name, created.enabled, created.clientCount], [D, true, 1]);
      const [event] = await ts.app.audit.list({ action: 'organisation.created', target: D });
      assert.deepEqual([event?.actor, event?.organisation, event?.details.ensured], [ts.admin.clientId, D, true]);
      const [clientEvent] = await ts.app.audit.list({ action: 'client.created', target: 'first-of-d' });
      assert.equal(clientEvent?.organisation, D);
      // A refused client registers nothing.
      const taken = await api('POST', '/clients', { clientId: 'first-of-d', rsin: '222222220' });
      assert.equal(taken.status, 409);
      await assert.rejects(ts.app.organisations.get('222222220'), /does not exist/);
      // Moving a client to another new RSIN registers that one too.
      const E = '555555550';
      assert.equal((await api('PATCH', '/clients/first-of-d', { rsin: E })).status, 200);
      assert.equal((await ts.app.organisations.get(E)).clientCount, 1);
      assert.deepEqual(
        (await api('GET', `/audit?organisation=${D}&limit=2`)).json.items.map((e: { action: string }) => e.action),
        ['client.moved', 'client.created'],
      );
    });
  });

  describe(`organisations: CLI (${dialect})`, () => {
    let env: Record<string, string | undefined>;
    let drop = async () => {};
    before(async () => {
      env = {
        ...process.env,
        ZGW_AUTH_DATA_DIR: tempDir(),
        ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      };
      if (dialect === 'postgres') {
        const pgdb = await freshPostgres();
        env.DATABASE_URL = pgdb.url;
        drop = pgdb.drop;
      }
    });
    after(() => drop());
    /** Resolves with exit code and output, never rejects. */
    const cli = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };

    it('creates, lists with client counts, shows, renames, disables and enables; audited with the CLI as actor', async () => {
      const created = await cli(
        '--init',
        'organisations',
        'create',
        '--rsin',
        A,
        '--name',
        'Gemeente Voorbeeld',
        '--json',
      );
      assert.equal(created.code, 0, created.stderr);
      assert.deepEqual(
        [JSON.parse(created.stdout).rsin, JSON.parse(created.stdout).name, JSON.parse(created.stdout).enabled],
        [A, 'Gemeente Voorbeeld', true],
      );
      assert.equal((await cli('clients', 'create', '--rsin', A, '--client-id', 'app-a')).code, 0);
      assert.equal((await cli('clients', 'create', '--rsin', A, '--client-id', 'app-b', '--disabled')).code, 0);
      assert.equal((await cli('organisations', 'create', '--rsin', B, '--name', 'Waterschap Beta')).code, 0);

      const listed = JSON.parse((await cli('organisations', 'list', '--json')).stdout);
      assert.equal(listed.total, 2);
      assert.deepEqual(
        listed.items.map((o: { rsin: string; clientCount: number; enabledClientCount: number }) => [
          o.rsin,
          o.clientCount,
          o.enabledClientCount,
        ]),
        [
          [B, 0, 0],
          [A, 2, 1],
        ],
      );
      const table = (await cli('organisations', 'list')).stdout;
      assert.match(table, /^RSIN\s+ENABLED\s+CLIENTS\s+ENABLED CLIENTS\s+UPDATED\s+NAME/m);
      assert.match(table, new RegExp(`^${A}\\s+true\\s+2\\s+1\\s+\\S+\\s+Gemeente Voorbeeld$`, 'm'));
      assert.match(table, /^2 of 2$/m);
      assert.deepEqual(
        JSON.parse((await cli('organisations', 'list', '--search', 'beta', '--json')).stdout).items.map(
          (o: { rsin: string }) => o.rsin,
        ),
        [B],
      );

      const shown = (await cli('organisations', 'show', A)).stdout;
      assert.match(shown, /^name:\s+Gemeente Voorbeeld$/m);
      assert.match(shown, /^clients:\s+2 \(1 enabled\)$/m);
      const renamed = await cli('organisations', 'update', A, '--name', 'Gemeente Voorbeeld-Oost', '--json');
      assert.equal(JSON.parse(renamed.stdout).name, 'Gemeente Voorbeeld-Oost');
      assert.equal((await cli('organisations', 'disable', A)).stdout.trim(), `${A} disabled`);
      assert.equal(JSON.parse((await cli('organisations', 'show', A, '--json')).stdout).enabled, false);
      assert.deepEqual(
        JSON.parse((await cli('organisations', 'list', '--enabled', 'false', '--json')).stdout).items.map(
          (o: { rsin: string }) => o.rsin,
        ),
        [A],
      );
      assert.equal((await cli('organisations', 'enable', A)).stdout.trim(), `${A} enabled`);
      assert.equal(JSON.parse((await cli('organisations', 'show', A, '--json')).stdout).enabled, true);

      const events = JSON.parse((await cli('audit', 'list', '--json', '--limit', '100')).stdout) as Array<{
        action: string;
        actor: string;
        target: string;
      }>;
      const mine = events.filter((e) => e.action.startsWith('organisation.'));
      assert.deepEqual(
        mine.map((e) => `${e.action} ${e.target}`),
        [
          `organisation.enabled ${A}`,
          `organisation.disabled ${A}`,
          `organisation.updated ${A}`,
          `organisation.created ${B}`,
          `organisation.created ${A}`,
        ],
      );
      assert.ok(mine.every((e) => e.actor === 'cli'));
    });

    it("a client for an RSIN without an organisation registers it; the audit trail lists an organisation's events", async () => {
      const C = '002220647';
      const created = await cli('clients', 'create', '--rsin', C, '--client-id', 'app-c', '--json');
      assert.equal(created.code, 0, created.stderr);
      const shown = JSON.parse((await cli('organisations', 'show', C, '--json')).stdout);
      assert.deepEqual([shown.name, shown.enabled, shown.clientCount], [C, true, 1]);
      const events = JSON.parse((await cli('audit', 'list', '--organisation', C, '--json')).stdout) as Array<{
        action: string;
        actor: string;
        organisation: string;
      }>;
      assert.deepEqual(
        events.map((e) => [e.action, e.actor, e.organisation]),
        [
          ['client.created', 'cli', C],
          ['organisation.created', 'cli', C],
        ],
      );
      const table = (await cli('audit', 'list', '--organisation', A)).stdout;
      assert.match(table, /^ID\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+ADDRESS\s+REASON\s+COUNT\s+ORGANISATION$/m);
      assert.match(table, new RegExp(`\\s${A}$`, 'm'));
      assert.ok(table.trim().split('\n').slice(1).length > 0);
      assert.ok(!table.includes(C), "another organisation's events are left out");
      const bad = await cli('audit', 'list', '--organisation', '123456789');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /not a valid RSIN/);
    });

    it('refuses a bad RSIN or name, an unknown RSIN and a duplicate with a one-line reason and exit code 1', async () => {
      const refused = async (pattern: RegExp, ...args: string[]) => {
        const r = await cli(...args);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.match(r.stderr, pattern);
      };
      // Each refused on its own, so all at once: none of them changes anything, as checked after them.
      // Every run ends before the test goes on, also when one was not refused as it should be.
      const runs = await Promise.allSettled([
        refused(/not a valid RSIN/, 'organisations', 'create', '--rsin', '123456789', '--name', 'x'),
        refused(/name: 1-200 characters/, 'organisations', 'create', '--rsin', '002220647', '--name', 'a\u0085b'),
        refused(/name: 1-200 characters/, 'organisations', 'update', A, '--name', 'x'.repeat(201)),
        refused(/already exists/, 'organisations', 'create', '--rsin', A, '--name', 'again'),
        refused(/does not exist/, 'organisations', 'show', UNKNOWN),
        refused(/does not exist/, 'organisations', 'disable', UNKNOWN),
        refused(/not a valid RSIN/, 'organisations', 'enable', 'abc'),
        refused(/limit: a whole number from 1 to 1000/, 'organisations', 'list', '--limit', '5000'),
      ]);
      for (const r of runs) if (r.status === 'rejected') throw r.reason;
      assert.equal(JSON.parse((await cli('organisations', 'list', '--json')).stdout).total, 3, 'nothing was created');
      assert.equal(
        JSON.parse((await cli('organisations', 'show', A, '--json')).stdout).name,
        'Gemeente Voorbeeld-Oost',
      );
    });
  });
}
