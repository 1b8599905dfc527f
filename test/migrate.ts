import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { applyMigrationPlan, type MigrationReport, type ReportEntry } from '../src/migrate/apply-migration-plan.js';
import { parseKeycloakRealm } from '../src/migrate/parse-keycloak-realm.js';
import { createSelfSignedToken } from '../src/tokens/self-signed-token.js';
import { FIRST_ADMIN_CLIENT_ID } from '../src/clients/model.js';
import {
  basicAuth,
  CLI,
  cliInProcess,
  type DialectName,
  freshPostgres,
  hs256,
  postForm,
  startTestServer,
  type TestServer,
} from './helpers.js';

const run = promisify(execFile);
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');
const realmSample = () =>
  JSON.parse(fs.readFileSync(path.join(FIXTURES, 'keycloak-realm-export.json'), 'utf8')) as {
    clients: Record<string, unknown>[];
  };

/** Strong secrets as consumers configured them, with the characters that form-encoding changes. */
const PLUS_PERCENT = 'Kq7+Vx2%41Mz9#Lp4&Rt6/Wy3=Hb8?Nc5!Dj1';
const BAD_PERCENT = 'Zq8%zzY3+Wm6Rk1Tp4Vn7Bx2Cf5Hd9Jg0Ls';
const NON_ASCII = 'geheimë-Qx7Vm2Kp9Lz4Rt8Wb3Nc6Hd1Fj5Sg0';
const SAMPLE = {
  zaak: 'kP3vX9mQ2wL7zR4tY8nB1cF6hJ0dS5gA',
  zaakRotated: 'oldSecret-Z9x8c7v6b5n4m3',
  oneground: 'Wd0m2xYbT4qzJ6pLk9vRf3sN1cHa8uEe',
  old: 'Tr7!pQ+2z%Lm9#Xc',
};

/** A confidential service-account client as a realm export has it, without an rsin mapper (so --rsin applies). */
function serviceClient(clientId: string, secret: string, over: Record<string, unknown> = {}) {
  return {
    clientId,
    name: clientId,
    enabled: true,
    clientAuthenticatorType: 'client-secret',
    secret,
    publicClient: false,
    bearerOnly: false,
    serviceAccountsEnabled: true,
    protocol: 'openid-connect',
    attributes: {},
    ...over,
  };
}

/** The tests of this file for one dialect: each dialect runs as a test file of its own (migrate-sqlite, migrate-postgres), so that they run in parallel. */
export function migrateTests(dialect: DialectName): void {
  // The tests run a few at a time: each has a server and registry of its own (setUp), and much of
  // their time goes to waiting for the database and the processes they start (curl, Python).
  describe(`migrate (${dialect})`, { concurrency: 3 }, () => {
    let realmFile: string;
    const entry = (r: MigrationReport, id: string): ReportEntry => r.clients.find((c) => c.clientId === id)!;

    /** What a test works with: its server, its registry's folder and environment, and ways to reach them. */
    const harness = (ts: TestServer, dir: string, env: Record<string, string>) => {
      // A command of the CLI with the registry's settings, run in this process: what is tested here
      // is what it does and prints, not its process (the last test starts one).
      const cli = (...args: string[]) => cliInProcess(args, env);
      return {
        ts,
        dir,
        env,
        cli,
        report: async (...args: string[]): Promise<MigrationReport> => {
          const r = await cli('migrate', ...args, '--json');
          assert.equal(r.code, 0, r.stderr);
          return JSON.parse(r.stdout) as MigrationReport;
        },
        /** The registry's rows, without the usage marks a running server writes on its own. */
        registry: async () => {
          const db = ts.app.storage.db;
          return {
            clients: (await db.selectFrom('clients').selectAll().orderBy('client_id').execute()).map(
              ({ last_token_at, ...c }) => c,
            ),
            secrets: (await db.selectFrom('client_secrets').selectAll().orderBy('secret_id').execute()).map(
              ({ last_used_at, ...s }) => s,
            ),
            changes: await db
              .selectFrom('audit_events')
              .selectAll()
              .where('action', 'not in', ['token.issued', 'client_auth.failed'])
              .orderBy('id')
              .execute(),
          };
        },
        basicToken: (auth: string) =>
          postForm(`${ts.url}/token`, { grant_type: 'client_credentials' }, { authorization: auth }),
        introspect: (token: string) =>
          postForm(`${ts.url}/introspect`, { token }, { authorization: basicAuth(ts.admin.clientId, ts.admin.secret) }),
        /** Writes a realm export of these clients into the test's directory. */
        realmOf: (name: string, clients: unknown[]) => {
          const file = path.join(dir, name);
          fs.writeFileSync(file, JSON.stringify({ realm: 'OneGround', clients }));
          return file;
        },
        clientRows: async (ids: string[]) =>
          (await ts.app.storage.db.selectFrom('clients').select('client_id').where('client_id', 'in', ids).execute())
            .map((r) => r.client_id)
            .sort(),
      };
    };

    before(() => {
      // The sample realm with variants of our own: secrets as consumers really have them, one without an rsin mapper.
      const realm = realmSample();
      realm.clients.push(
        serviceClient('plus-percent', PLUS_PERCENT, { attributes: { 'access.token.lifespan': '900' } }),
        serviceClient('bad-percent', BAD_PERCENT),
        serviceClient('umlaut', NON_ASCII),
      );
      realmFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-migrate-realm-')), 'realm.json');
      fs.writeFileSync(realmFile, JSON.stringify(realm));
    });

    /**
     * A fresh server with an empty registry for this test, closed after it; with `imported`, the
     * realm is imported first, as `migrate keycloak --rsin 000000000 --allow-weak-secrets` does
     * (in this process: the same parser and use case, without starting the CLI each time).
     */
    const setUp = async (t: TestContext, { imported = false } = {}) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-migrate-'));
      const masterKey = crypto.randomBytes(32).toString('base64');
      // EdDSA: no test here depends on the algorithm, and its key is made at once, unlike an RSA key.
      const server = await startTestServer({
        dialect,
        dataDir: dir,
        masterKey,
        env: { ZGW_AUTH_LOCKOUT_THRESHOLD: '3', ZGW_AUTH_SIGNING_ALG: 'EdDSA' },
      });
      t.after(() => server.close());
      const h = harness(server, dir, {
        ZGW_AUTH_DATA_DIR: dir,
        ZGW_AUTH_MASTER_KEY: masterKey,
        ...(server.config.databaseUrl ? { DATABASE_URL: server.config.databaseUrl } : {}),
      });
      if (!imported) return h;
      const plan = parseKeycloakRealm(JSON.parse(fs.readFileSync(realmFile, 'utf8')), {
        rsin: '000000000',
        selfSigned: true,
        now: Date.now(),
      });
      const { config, now } = server.app;
      const r = await applyMigrationPlan(server.app.clients, plan, {
        dryRun: false,
        allowWeakSecrets: true,
        actor: { id: 'cli' },
        tokenLifetime: config.tokenLifetime,
        maxTokenLifetime: config.maxTokenLifetime,
        now,
      });
      assert.equal(r.summary.created, 7, 'the realm is imported');
      return h;
    };

    it('--dry-run reports what would happen and changes nothing in the database', async (t) => {
      const { cli, report, registry } = await setUp(t);
      const before = await registry();
      const r = await report(
        'keycloak',
        '--file',
        realmFile,
        '--rsin',
        '000000000',
        '--allow-weak-secrets',
        '--dry-run',
      );
      assert.equal(r.dryRun, true);
      assert.equal(r.summary.created, 7);
      assert.equal(entry(r, 'zaaksysteem-123456782').created, true);
      assert.deepEqual(await registry(), before);
      const text = await cli('migrate', 'keycloak', '--file', realmFile, '--rsin', '000000000', '--dry-run');
      assert.match(text.stdout, /^CLIENT ID\s+RESULT\s+CREATED/);
      assert.match(text.stdout, /dry run: nothing was changed/);
      assert.deepEqual(await registry(), before);
    });

    it('imports the realm: the report says what was imported, skipped and needs attention, and why', async (t) => {
      const { report } = await setUp(t);
      const r = await report('keycloak', '--file', realmFile, '--rsin', '000000000', '--allow-weak-secrets');
      assert.equal(r.dryRun, false);
      const status = Object.fromEntries(r.clients.map((c) => [c.clientId, [c.status, c.created]]));
      assert.deepEqual(status, {
        account: ['skipped', false],
        'account-console': ['skipped', false],
        'admin-cli': ['skipped', false],
        broker: ['skipped', false],
        'realm-management': ['skipped', false],
        'security-admin-console': ['skipped', false],
        'oneground-000000000': ['imported', true],
        // The rotated secondary secret is below the strength rule: kept, as allowed, and reported.
        'zaaksysteem-123456782': ['attention', true],
        'dms-koppeling-123456782': ['attention', true],
        'oud-systeem-000000000': ['attention', true],
        'portaal-frontend': ['skipped', false],
        'plus-percent': ['imported', true],
        'bad-percent': ['imported', true],
        umlaut: ['attention', true],
      });
      assert.deepEqual(r.summary, { imported: 3, skipped: 7, attention: 4, created: 7 });
      assert.match(entry(r, 'portaal-frontend').reasons[0]!, /public client/);
      assert.match(entry(r, 'dms-koppeling-123456782').reasons.join(), /masked/);
      assert.match(entry(r, 'umlaut').reasons.join(), /non-ASCII/);
      assert.match(entry(r, 'zaaksysteem-123456782').reasons.join(), /weak keycloak rotated secret kept/);
      assert.deepEqual(entry(r, 'zaaksysteem-123456782').secrets, ['keycloak', 'keycloak rotated']);
      assert.equal(entry(r, 'plus-percent').rsin, '000000000', '--rsin for a client without an rsin mapper');
      assert.match(r.notes.join(), /realm gave tokens of 300 s/);
      // Secrets never appear in the report.
      const raw = JSON.stringify(r);
      for (const secret of [...Object.values(SAMPLE), PLUS_PERCENT, BAD_PERCENT, NON_ASCII])
        assert.ok(!raw.includes(secret));
    });

    it('clients as Keycloak had them: rsin, static claims, token lifetime, enabled flag, self-signing, secrets with expiry', async (t) => {
      const { cli } = await setUp(t, { imported: true });
      const show = async (id: string) => JSON.parse((await cli('clients', 'show', id, '--json')).stdout);
      const zaak = await show('zaaksysteem-123456782');
      assert.equal(zaak.client.rsin, '123456782');
      assert.deepEqual(zaak.client.staticClaims, { user_id: 'zaaksysteem', user_representation: 'Zaaksysteem' });
      assert.equal(zaak.client.selfSignedAllowed, true);
      assert.equal(zaak.client.name, 'Zaaksysteem gemeente');
      assert.deepEqual(zaak.client.risks, ['weak_secret']);
      assert.deepEqual(
        zaak.secrets
          .map((s: { label: string; expiresAt: number; usableForSelfSigned: boolean; weak: boolean }) => [
            s.label,
            s.expiresAt,
            s.usableForSelfSigned,
            s.weak,
          ])
          .sort(),
        [
          ['keycloak rotated', 1893456000_000, true, true],
          ['keycloak', 1924992000_000, true, false],
        ],
      );
      assert.equal((await show('oneground-000000000')).client.tokenLifetime, 3600);
      assert.equal((await show('oud-systeem-000000000')).client.enabled, false);
      const masked = await show('dms-koppeling-123456782');
      assert.equal(masked.client.enabled, false, 'a masked secret imports the client disabled');
      assert.deepEqual(masked.secrets, [], '… and without a secret');
    });

    it('every imported client has an audit event; no event holds a secret', async (t) => {
      const { cli, report } = await setUp(t);
      await report('keycloak', '--file', realmFile, '--rsin', '000000000', '--allow-weak-secrets');
      const events = JSON.parse(
        (await cli('audit', 'list', '--action', 'client.created', '--limit', '100', '--json')).stdout,
      ) as { target: string; actor: string; details: unknown }[];
      const created = [
        'oneground-000000000',
        'zaaksysteem-123456782',
        'dms-koppeling-123456782',
        'oud-systeem-000000000',
        'plus-percent',
        'bad-percent',
        'umlaut',
      ];
      for (const id of created) assert.equal(events.filter((e) => e.target === id && e.actor === 'cli').length, 1, id);
      // The realm's organisation had none here: registered on the way, audited as done by the migration.
      const organisations = JSON.parse(
        (await cli('audit', 'list', '--action', 'organisation.created', '--organisation', '123456782', '--json'))
          .stdout,
      ) as {
        actor: string;
        details: { ensured?: boolean };
      }[];
      assert.deepEqual(
        organisations.map((e) => [e.actor, e.details.ensured]),
        [['cli', true]],
      );
      assert.equal(JSON.parse((await cli('organisations', 'show', '123456782', '--json')).stdout).clientCount, 2);
      const raw = JSON.stringify(events);
      for (const secret of [...Object.values(SAMPLE), PLUS_PERCENT, BAD_PERCENT, NON_ASCII])
        assert.ok(!raw.includes(secret));
    });

    it('running again changes nothing and duplicates nothing', async (t) => {
      const { dir, report, registry } = await setUp(t, { imported: true });
      const before = await registry();
      const r = await report('keycloak', '--file', realmFile, '--rsin', '000000000', '--allow-weak-secrets');
      assert.equal(r.summary.created, 0);
      assert.equal(entry(r, 'zaaksysteem-123456782').status, 'skipped');
      assert.deepEqual(entry(r, 'zaaksysteem-123456782').reasons, ['exists: left as it is']);
      assert.deepEqual(await registry(), before);
      // A client that exists without the file's secret is left alone, and that is reported.
      const other = path.join(dir, 'other-secret.json');
      fs.writeFileSync(
        other,
        JSON.stringify({
          realm: 'OneGround',
          clients: [serviceClient('plus-percent', 'a-different-secret-Qx7Vm2Kp9Lz4Rt8Wb3Nc6')],
        }),
      );
      const changed = entry(await report('keycloak', '--file', other, '--rsin', '000000000'), 'plus-percent');
      assert.equal(changed.status, 'attention');
      assert.deepEqual(changed.reasons, [
        "exists with other settings than in the file: token lifetime 900 s here, the server's default in the file. Left as it is: change it with clients update if the file is right",
        'exists: left as it is, but its keycloak secret from the file is not one of its secrets; consumers sending it will fail (add it with secrets add --import-stdin)',
      ]);
      assert.deepEqual(await registry(), before);
    });

    it('tokens with the migrated secrets: curl -u, multipart form, Python requests auth=, form-encoded Basic', async (t) => {
      const { ts, cli, basicToken } = await setUp(t, { imported: true });
      await cli('clients', 'enable', 'oud-systeem-000000000');
      const pairs: [string, string][] = [
        ['zaaksysteem-123456782', SAMPLE.zaak],
        ['zaaksysteem-123456782', SAMPLE.zaakRotated],
        ['oneground-000000000', SAMPLE.oneground],
        ['oud-systeem-000000000', SAMPLE.old],
        ['plus-percent', PLUS_PERCENT],
        ['bad-percent', BAD_PERCENT],
      ];
      // Every pair from one Python process: starting one and importing requests costs about 0.3 s of CPU.
      const python = `
import json, requests, sys
for client_id, secret in json.loads(sys.argv[2]):
    r = requests.post(sys.argv[1] + "/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    print(r.status_code, r.json().get("access_token", r.text)[:20])`;
      // The clients at once, each sent one way after the other; every run ends before the test goes on.
      const sent = await Promise.allSettled(
        pairs.map(async ([id, secret]) => {
          const curlBasic = await run('curl', [
            '-s',
            '-o',
            '/dev/null',
            '-w',
            '%{http_code}',
            '-u',
            `${id}:${secret}`,
            '-d',
            'grant_type=client_credentials',
            `${ts.url}/token`,
          ]);
          assert.equal(curlBasic.stdout, '200', `curl -u ${id}`);
          const multipart = await run('curl', [
            '-s',
            '-F',
            `client_id=${id}`,
            '-F',
            `client_secret=${secret}`,
            '-F',
            'grant_type=client_credentials',
            `${ts.url}/token`,
          ]);
          assert.ok(JSON.parse(multipart.stdout).access_token, `curl -F ${id}: ${multipart.stdout}`);
          assert.equal((await basicToken(basicAuth(id, secret))).status, 200, `form-encoded Basic ${id}`);
        }),
      );
      for (const r of sent) if (r.status === 'rejected') throw r.reason;
      const py = (await run('/usr/bin/python3', ['-c', python, ts.url, JSON.stringify(pairs)])).stdout.split('\n');
      pairs.forEach(([id], i) => assert.match(py[i]!, /^200 /, `requests auth= ${id}: ${py[i]}`));
      // Consumers of a non-ASCII secret that send it as UTF-8 get their token.
      assert.equal(
        (
          await postForm(`${ts.url}/token`, {
            grant_type: 'client_credentials',
            client_id: 'umlaut',
            client_secret: NON_ASCII,
          })
        ).status,
        200,
      );
      assert.equal((await basicToken(basicAuth('umlaut', NON_ASCII))).status, 200);
      // The token lifetime came along.
      const res = await basicToken(basicAuth('plus-percent', PLUS_PERCENT));
      assert.equal(res.json.expires_in, 900);
    });

    it('self-signed HS256 tokens made with the migrated secrets are accepted at /introspect', async (t) => {
      const { ts, introspect } = await setUp(t, { imported: true });
      const now = Math.floor(ts.clock.now() / 1000);
      for (const [id, secret] of [
        ['zaaksysteem-123456782', SAMPLE.zaak],
        ['zaaksysteem-123456782', SAMPLE.zaakRotated],
        ['plus-percent', PLUS_PERCENT],
        ['umlaut', NON_ASCII],
      ] as const) {
        const res = await introspect(
          hs256({ iss: id, client_id: id, user_id: 'u', user_representation: 'U', iat: now }, secret),
        );
        assert.equal(res.json.active, true, `${id}: ${res.text}`);
        assert.equal(res.json.client_id, id);
      }
      const masked = await introspect(
        createSelfSignedToken({ clientId: 'dms-koppeling-123456782', secret: '**********', now: ts.clock.now() }),
      );
      assert.deepEqual(masked.json, { active: false });
    });

    it('a raw Basic secret with + or % is one attempt in the guessing back-off, and invalid percent-encoding is no 400', async (t) => {
      const { basicToken } = await setUp(t, { imported: true });
      const raw = (id: string, secret: string) => 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');
      const wrong = await basicToken(raw('bad-percent', 'Zq8%zzY3+wrong'));
      assert.equal(wrong.status, 401, wrong.text);
      assert.equal(wrong.json.error, 'invalid_client');
      // Threshold 3: two wrong tries with + and % (each read two ways) leave the right secret working.
      assert.equal((await basicToken(raw('plus-percent', 'Kq7+Vx2%41wrong'))).status, 401);
      assert.equal((await basicToken(raw('plus-percent', 'Kq7+Vx2%41wrong'))).status, 401);
      assert.equal((await basicToken(raw('plus-percent', PLUS_PERCENT))).status, 200);
      for (let i = 0; i < 3; i++) await basicToken(raw('plus-percent', 'Kq7+Vx2%41wrong'));
      assert.equal((await basicToken(raw('plus-percent', PLUS_PERCENT))).status, 429, 'the back-off still counts');
    });

    it('--no-self-signed: secrets stored hashed only; a weak one is then accepted and reported', async (t) => {
      const { ts, dir, cli, report, basicToken, introspect } = await setUp(t);
      const file = path.join(dir, 'weak.json');
      fs.writeFileSync(
        file,
        JSON.stringify({
          clients: [serviceClient('weak-hashed', 'Zomer2024!x'), serviceClient('weak-signing', 'Zomer2024!y')],
        }),
      );
      const refused = await report('keycloak', '--file', file, '--rsin', '000000000');
      assert.deepEqual(
        refused.clients.map((c) => [c.status, c.created]),
        [
          ['attention', false],
          ['attention', false],
        ],
      );
      assert.match(
        refused.clients[0]!.reasons[0]!,
        /weak keycloak secret .* refused for a self-signing client.*--allow-weak-secrets/,
      );
      const hashed = await report('keycloak', '--file', file, '--rsin', '000000000', '--no-self-signed');
      assert.deepEqual(entry(hashed, 'weak-hashed').created, true);
      assert.match(entry(hashed, 'weak-hashed').reasons.join(), /accepted at \/token only/);
      const secrets = JSON.parse((await cli('secrets', 'list', 'weak-hashed', '--json')).stdout);
      assert.deepEqual(
        secrets.map((s: { usableForSelfSigned: boolean; weak: boolean }) => [s.usableForSelfSigned, s.weak]),
        [[false, true]],
        'marked weak, but no risk: it cannot sign',
      );
      assert.deepEqual(JSON.parse((await cli('clients', 'show', 'weak-hashed', '--json')).stdout).client.risks, []);
      assert.equal((await basicToken(basicAuth('weak-hashed', 'Zomer2024!x'))).status, 200);
      const now = Math.floor(ts.clock.now() / 1000);
      assert.deepEqual(
        (await introspect(hs256({ iss: 'weak-hashed', client_id: 'weak-hashed', iat: now }, 'Zomer2024!x'))).json,
        { active: false },
      );
    });

    it('Open Zaak: every non-empty secret a self-signing client named after its Applicatie; weak ones only when allowed', async (t) => {
      const { ts, cli, report, introspect } = await setUp(t);
      const dump = path.join(FIXTURES, 'open-zaak-dumpdata.json');
      const first = await report('open-zaak', '--file', dump, '--rsin', '123456782');
      assert.deepEqual(
        first.clients.map((c) => [c.clientId, c.status, c.created]),
        [
          ['open-formulieren', 'imported', true],
          ['zac-gemeente', 'attention', false],
          ['leeg-geheim', 'attention', false],
          ['zac-gemeente-test', 'skipped', false],
        ],
      );
      assert.match(entry(first, 'leeg-geheim').reasons[0]!, /empty secret/);
      assert.match(entry(first, 'zac-gemeente').reasons[0]!, /weak open zaak secret/);
      const second = await report('open-zaak', '--file', dump, '--rsin', '123456782', '--allow-weak-secrets');
      assert.deepEqual(
        second.clients.map((c) => [c.clientId, c.status, c.created]),
        [
          ['open-formulieren', 'skipped', false],
          ['zac-gemeente', 'attention', true],
          ['leeg-geheim', 'attention', false],
          ['zac-gemeente-test', 'skipped', false],
        ],
      );
      const zac = JSON.parse((await cli('clients', 'show', 'zac-gemeente', '--json')).stdout);
      assert.deepEqual(
        [zac.client.name, zac.client.rsin, zac.client.selfSignedAllowed, zac.client.risks],
        ['Zaakafhandelcomponent', '123456782', true, ['weak_secret']],
      );
      // Open Zaak's consumers sign their own tokens: accepted as before.
      for (const [id, secret] of [
        ['open-formulieren', 'dit-is-een-lang-geheim-voor-formulieren'],
        ['zac-gemeente', 'Zomer2024!'],
      ]) {
        const res = await introspect(
          createSelfSignedToken({ clientId: id!, secret: secret!, userId: 'u', now: ts.clock.now() }),
        );
        assert.equal(res.json.active, true, `${id}: ${res.text}`);
      }
      const curl = await run('curl', [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-u',
        'open-formulieren:dit-is-een-lang-geheim-voor-formulieren',
        '-d',
        'grant_type=client_credentials',
        `${ts.url}/token`,
      ]);
      assert.equal(curl.stdout, '200');
    });

    it('a malformed or unsuitable file is refused with one clear line and a non-zero exit, changing nothing', async (t) => {
      const { dir, cli, registry } = await setUp(t);
      const before = await registry();
      const write = (name: string, content: string | Buffer) => {
        const file = path.join(dir, name);
        fs.writeFileSync(file, content);
        return file;
      };
      const big = write('big.json', '');
      fs.truncateSync(big, 33 * 1024 * 1024);
      const cases: [string[], RegExp][] = [
        [['keycloak', '--file', path.join(dir, 'missing.json')], /missing\.json: cannot be read \(ENOENT\)/],
        [
          ['keycloak', '--file', write('bad.json', '{"clients": [')],
          /bad\.json: not valid JSON: unexpected end of the file at line 1, column 14\n$/,
        ],
        // JSON.parse would quote the text around the fault: here the tail of a secret.
        [
          [
            'open-zaak',
            '--rsin',
            '123456782',
            '--file',
            write(
              'comma.json',
              '[{"model":"vng_api_common.jwtsecret",\n "fields":{"identifier":"a","secret":"OZ-SECRET-VALUE-123456"}},]',
            ),
          ],
          /comma\.json: not valid JSON: expected a value \(a trailing comma\?\) at line 2, column 65\n$/,
        ],
        [
          ['keycloak', '--file', write('yaml.json', 'realm: OneGround\nclients: []\n')],
          /yaml\.json: not valid JSON: expected a value at line 1, column 1\n$/,
        ],
        [['keycloak', '--file', write('latin1.json', Buffer.from([0x7b, 0xe9, 0x7d]))], /latin1\.json: not UTF-8 text/],
        [['keycloak', '--file', big], /big\.json: larger than 32 MiB/],
        [
          [
            'keycloak',
            '--file',
            write('shape.json', '{"clients": [{"clientId": "x", "attributes": {"access.token.lifespan": 60}}]}'),
          ],
          /shape\.json: \$\.clients\[0\]\.attributes\["access\.token\.lifespan"\]: expected a string, got number/,
        ],
        [
          [
            'keycloak',
            '--file',
            write('dump-as-realm.json', fs.readFileSync(path.join(FIXTURES, 'open-zaak-dumpdata.json'))),
          ],
          /holds 6 realms/,
        ],
        [['open-zaak', '--file', realmFile, '--rsin', '123456782'], /\$: expected an array, got an object/],
        [
          ['open-zaak', '--file', path.join(FIXTURES, 'open-zaak-dumpdata.json'), '--rsin', '123456789'],
          /--rsin: "123456789" is not a valid RSIN/,
        ],
      ];
      try {
        // Each refused on its own, so all at once (the registry is checked unchanged after them);
        // every run ends before the test goes on, also when one was not refused as it should be.
        const results = await Promise.all(cases.map(([args]) => cli('migrate', ...args)));
        for (const [i, [args, message]] of cases.entries()) {
          const r = results[i]!;
          assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
          assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
          assert.match(r.stderr, message);
          assert.doesNotMatch(r.stderr, /\n\s+at /);
          for (const fragment of ['VALUE-123456', 'OZ-SECRET', 'realm: OneGround'])
            assert.ok(!r.stderr.includes(fragment), r.stderr);
        }
      } finally {
        fs.rmSync(big);
      }
      assert.deepEqual(await registry(), before);
    });

    const claimMapper = (name: string, value: string, type = 'String') => ({
      name,
      protocolMapper: 'oidc-hardcoded-claim-mapper',
      config: { 'claim.name': name, 'claim.value': value, 'jsonType.label': type, 'access.token.claim': 'true' },
    });
    const strong = (n: number) => `Odd${n}-Wd0m2xYbT4qzJ6pLk9vRf3sN1cHa8uEe`;

    it('--dry-run and the run report the same for odd clients: the dry run makes every check the registry makes', async (t) => {
      const { cli, report, registry, realmOf, clientRows } = await setUp(t);
      const odd = (clientId: string, over: Record<string, unknown> = {}) =>
        serviceClient(clientId, strong(clientId.length), over);
      const file = realmOf('odd.json', [
        odd('odd-expiry-33658', { attributes: { 'client.secret.expiration.time': '999999999999' } }),
        odd('odd-expiry-10000', { attributes: { 'client.secret.expiration.time': '253402300800' } }),
        odd('odd-expiry-9999', { attributes: { 'client.secret.expiration.time': '253402300799' } }),
        odd('odd-rotated-33658', {
          attributes: { 'client.secret.rotated': strong(99), 'client.secret.rotated.expiration.time': '999999999999' },
        }),
        odd('odd-claims-large', { protocolMappers: [claimMapper('urn:x:big', 'x'.repeat(5000))] }),
        odd('odd-claims-many', {
          protocolMappers: Array.from({ length: 51 }, (_, i) => claimMapper(`urn:x:c${i}`, 'v')),
        }),
        odd('odd-claims-proto', {
          protocolMappers: [
            claimMapper('urn:x:p', '{"__proto__":{"polluted":1}}', 'JSON'),
            claimMapper('urn:x:q', '[{"a":{"constructor":{"prototype":{}}}}]', 'JSON'),
            claimMapper('urn:x:ok', '{"a":[1]}', 'JSON'),
          ],
        }),
        odd('odd-rsin', { protocolMappers: [claimMapper('rsin', '123')] }),
        odd('odd-name', { name: `\u202eevil ${'n'.repeat(300)}`, description: 'd'.repeat(3000) }),
        odd('odd-lifespan', { attributes: { 'access.token.lifespan': '99999999' } }),
        odd('odd-short-secret', { secret: 'short' }),
        odd('odd-long-secret', { secret: 'L'.repeat(600) }),
        odd('odd-control-secret', { secret: `${strong(5)}\u0007` }),
        odd('odd-weak', { secret: 'Zomer2024!odd' }),
        odd('x'.repeat(51)),
        odd('odd\u0000nul'),
        odd('odd-dup'),
        odd('odd-dup'),
      ]);
      const before = await registry();
      const dry = await report('keycloak', '--file', file, '--rsin', '000000000', '--dry-run');
      assert.deepEqual(await registry(), before);
      const real = await report('keycloak', '--file', file, '--rsin', '000000000');
      assert.deepEqual({ ...real, dryRun: true }, dry);
      assert.deepEqual(
        real.clients.map((c) => [c.clientId, c.status, c.created]),
        [
          ['odd-expiry-33658', 'attention', false],
          ['odd-expiry-10000', 'attention', false],
          ['odd-expiry-9999', 'imported', true],
          ['odd-rotated-33658', 'attention', false],
          ['odd-claims-large', 'attention', false],
          ['odd-claims-many', 'attention', false],
          ['odd-claims-proto', 'attention', true],
          ['odd-rsin', 'attention', false],
          ['odd-name', 'imported', true],
          ['odd-lifespan', 'attention', true],
          ['odd-short-secret', 'attention', false],
          ['odd-long-secret', 'attention', false],
          ['odd-control-secret', 'attention', false],
          ['odd-weak', 'attention', false],
          ['x'.repeat(51), 'attention', false],
          ['odd\u0000nul', 'attention', false],
          ['odd-dup', 'imported', true],
          ['odd-dup', 'attention', false],
        ],
      );
      assert.match(
        entry(real, 'odd-expiry-33658').reasons[0]!,
        /^not imported: keycloak secret: its expiry time in the file is after the year 9999/,
      );
      assert.match(
        entry(real, 'odd-rotated-33658').reasons[0]!,
        /^not imported: keycloak rotated secret: its expiry time/,
      );
      assert.match(
        entry(real, 'odd\u0000nul').reasons[0]!,
        /^not imported: not a valid client id \(.*\), and it holds control characters$/,
      );
      assert.deepEqual(entry(real, 'odd-claims-proto').reasons, [
        'hardcoded claim "urn:x:p" not carried over: its JSON value holds a __proto__, constructor or prototype key, which tokens may not carry',
        'hardcoded claim "urn:x:q" not carried over: its JSON value holds a __proto__, constructor or prototype key, which tokens may not carry',
      ]);
      // What the report says was created is what the registry holds, and as the report says.
      const created = real.clients.filter((c) => c.created).map((c) => c.clientId);
      const storable = real.clients.map((c) => c.clientId).filter((id) => !id.includes('\u0000'));
      assert.deepEqual(await clientRows(storable), [...new Set(created)].sort());
      const proto = JSON.parse((await cli('clients', 'show', 'odd-claims-proto', '--json')).stdout);
      assert.deepEqual(proto.client.staticClaims, { 'urn:x:ok': { a: [1] } });
      const expiry = JSON.parse((await cli('secrets', 'list', 'odd-expiry-9999', '--json')).stdout);
      assert.deepEqual(
        expiry.map((s: { expiresAt: number }) => s.expiresAt),
        [253402300799000],
      );
    });

    it('the report writes out invisible characters from the file: a client id cannot rewrite or hide lines of it', async (t) => {
      const { dir, cli, realmOf } = await setUp(t);
      const ids = [
        'evil\u001b[2K\r\u001b[1A\u001b[2Kok-client  imported',
        'hidden\u001b]0;title\u0007',
        'app\nx',
        'csi\u009b31m',
        'bidi\u202eevil',
        'nul\u0000',
      ];
      const file = realmOf('escapes.json', [
        serviceClient(ids[0]!, strong(1)),
        serviceClient(ids[1]!, strong(1), { serviceAccountsEnabled: false }),
        serviceClient(ids[2]!, strong(1)),
        serviceClient(ids[3]!, strong(1), { publicClient: true }),
        serviceClient(ids[4]!, strong(1), { bearerOnly: true }),
        serviceClient(ids[5]!, strong(1), { clientAuthenticatorType: 'client-jwt\u001b[8m' }),
        serviceClient('named-oddly', strong(1), {
          name: 'Gemeente \u202eevil\u2066 \u0085',
          protocolMappers: [
            { name: 'mapper\u009b31m', protocolMapper: 'oidc-usermodel-attribute-mapper\u202e', config: {} },
          ],
        }),
      ]);
      const invisible = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
      const text = await cli('migrate', 'keycloak', '--file', file, '--rsin', '000000000', '--dry-run');
      assert.equal(text.code, 0, text.stderr);
      assert.doesNotMatch(text.stdout, invisible);
      const rows = text.stdout.split('\n');
      // One table line per client, each starting with its id written out.
      const shown = [
        'evil\\x1b[2K\\r\\x1b[1A\\x1b[2Kok-client  imported',
        'hidden\\x1b]0;title\\x07',
        'app\\nx',
        'csi\\x9b31m',
        'bidi\\u202eevil',
        'nul\\x00',
        'named-oddly',
      ];
      assert.deepEqual(
        rows.slice(1, 8).map((r) => shown.find((s) => r.startsWith(`${s} `))),
        shown,
      );
      assert.ok(
        rows.includes('  evil\\x1b[2K\\r\\x1b[1A\\x1b[2Kok-client  imported'),
        'named under Needs attention, written out',
      );
      assert.ok(
        rows.includes(
          '    - not imported: not a valid client id (1-50 characters of A-Z a-z 0-9 . _ ~ -, the first a letter or digit), and it holds control characters',
        ),
      );
      assert.match(text.stdout, /authenticates with client-jwt\\x1b\[8m/);
      assert.match(
        text.stdout,
        /"mapper 31m" \(oidc-usermodel-attribute-mapper \)/,
        'mapper names cleaned of C1 and bidi controls too',
      );
      // JSON: every character escaped, the same ids when read back.
      const json = await cli('migrate', 'keycloak', '--file', file, '--rsin', '000000000', '--dry-run', '--json');
      assert.doesNotMatch(json.stdout, invisible);
      const r = JSON.parse(json.stdout) as MigrationReport;
      assert.deepEqual(
        r.clients.slice(0, 6).map((c) => c.clientId),
        ids,
      );
      assert.equal(
        entry(r, 'named-oddly').name,
        'Gemeente  evil   ',
        'C1 and bidi controls cleaned from names, as C0 controls',
      );
      // Open Zaak's identifiers and labels alike.
      const dump = path.join(dir, 'oz-escapes.json');
      fs.writeFileSync(
        dump,
        JSON.stringify([
          { model: 'vng_api_common.jwtsecret', pk: 1, fields: { identifier: 'oz\u001b[8mhidden', secret: strong(2) } },
          {
            model: 'authorizations.applicatie',
            pk: 1,
            fields: { client_ids: ['loose\u001b]8;;http://x\u0007'], label: 'L\u009b2J' },
          },
        ]),
      );
      const oz = await cli('migrate', 'open-zaak', '--file', dump, '--rsin', '123456782', '--dry-run');
      assert.equal(oz.code, 0, oz.stderr);
      assert.doesNotMatch(oz.stdout, invisible);
      assert.match(oz.stdout, /^oz\\x1b\[8mhidden +ATTENTION/m);
      assert.match(oz.stdout, /^loose\\x1b]8;;http:\/\/x\\x07 +skipped/m);
    });

    it("an existing client that differs from the file is reported with the differences and left alone; zgw-auth's own clients are never offered a file's secret", async (t) => {
      const { ts, cli, report, registry, realmOf } = await setUp(t, { imported: true });
      const introspector = await cli(
        'clients',
        'create',
        '--client-id',
        'introspector',
        '--rsin',
        '000000000',
        '--scopes',
        'zgw-auth:introspect',
        '--json',
      );
      assert.equal(introspector.code, 0, introspector.stderr);
      const before = await registry();
      const file = realmOf('differs.json', [
        serviceClient('zaaksysteem-123456782', SAMPLE.zaak, {
          enabled: false,
          protocolMappers: [claimMapper('rsin', '000000000'), claimMapper('user_id', 'iemand-anders')],
        }),
        serviceClient(ts.admin.clientId, strong(3)),
        serviceClient('introspector', strong(4)),
      ]);
      for (const dryRun of [['--dry-run'], []]) {
        const r = await report('keycloak', '--file', file, '--rsin', '000000000', ...dryRun);
        assert.deepEqual(
          r.clients.map((c) => [c.clientId, c.status, c.created]),
          [
            ['zaaksysteem-123456782', 'attention', false],
            [ts.admin.clientId, 'skipped', false],
            ['introspector', 'skipped', false],
          ],
        );
        assert.deepEqual(entry(r, 'zaaksysteem-123456782').reasons, [
          'exists with other settings than in the file: rsin 123456782 here, 000000000 in the file; enabled here, disabled in the file; static claims "user_id", "user_representation" differ. Left as it is: change it with clients update if the file is right',
        ]);
        assert.deepEqual(entry(r, ts.admin.clientId).reasons, [
          "zgw-auth's own administrator client: never created or given a secret from a file",
        ]);
        assert.deepEqual(entry(r, 'introspector').reasons, [
          'exists and holds zgw-auth:introspect: left as it is; a secret from a file is never added to it',
        ]);
        assert.doesNotMatch(JSON.stringify(r), /secrets add/);
      }
      assert.deepEqual(await registry(), before);
    });

    it("never creates zgw-auth's own administrator client from a file, also in a registry that has none yet", async () => {
      const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-migrate-fresh-'));
      const pg = dialect === 'postgres' ? await freshPostgres() : undefined;
      try {
        const freshEnv = {
          ZGW_AUTH_DATA_DIR: fresh,
          ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
          ...(pg ? { DATABASE_URL: pg.url } : {}),
        };
        const inFresh = (...args: string[]) => cliInProcess(args, freshEnv);
        const file = path.join(fresh, 'own-admin.json');
        fs.writeFileSync(
          file,
          JSON.stringify({
            realm: 'OneGround',
            clients: [serviceClient(FIRST_ADMIN_CLIENT_ID, strong(7)), serviceClient('consumer-fresh', strong(8))],
          }),
        );
        for (const dryRun of [['--dry-run'], []]) {
          const r = await inFresh(
            'migrate',
            'keycloak',
            '--file',
            file,
            '--rsin',
            '000000000',
            '--init',
            '--json',
            ...dryRun,
          );
          assert.equal(r.code, 0, r.stderr);
          const reported = JSON.parse(r.stdout) as MigrationReport;
          assert.deepEqual(
            reported.clients.map((c) => [c.clientId, c.status, c.created]),
            [
              [FIRST_ADMIN_CLIENT_ID, 'skipped', false],
              ['consumer-fresh', 'imported', true],
            ],
          );
        }
        assert.equal((await inFresh('clients', 'show', 'consumer-fresh')).code, 0, 'the migration ran');
        const admin = await inFresh('clients', 'show', FIRST_ADMIN_CLIENT_ID);
        assert.notEqual(admin.code, 0, 'no administrator client from the file');
        assert.match(admin.stderr, /does not exist/);
      } finally {
        await pg?.drop();
        fs.rmSync(fresh, { recursive: true, force: true });
      }
    });

    it('running again after a secret was revoked or expired here, or the client disabled, says so: consumers sending it get 401', async (t) => {
      const { ts, cli, report, registry, basicToken } = await setUp(t, { imported: true });
      const [badPercent] = JSON.parse((await cli('secrets', 'list', 'bad-percent', '--json')).stdout) as {
        secretId: string;
      }[];
      assert.equal((await cli('secrets', 'revoke', 'bad-percent', badPercent!.secretId)).code, 0);
      const [umlaut] = JSON.parse((await cli('secrets', 'list', 'umlaut', '--json')).stdout) as { secretId: string }[];
      // As if its expiry had passed a minute ago.
      const expiredAt = Date.now() - 60_000;
      await ts.app.storage.db
        .updateTable('client_secrets')
        .set({ expires_at: expiredAt })
        .where('secret_id', '=', umlaut!.secretId)
        .execute();
      assert.equal((await cli('clients', 'disable', 'plus-percent')).code, 0);
      const before = await registry();
      const revokedAt = (
        JSON.parse((await cli('secrets', 'list', 'bad-percent', '--json')).stdout) as { revokedAt: number }[]
      )[0]!.revokedAt;
      const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
      for (const dryRun of [['--dry-run'], []]) {
        const r = await report(
          'keycloak',
          '--file',
          realmFile,
          '--rsin',
          '000000000',
          '--allow-weak-secrets',
          ...dryRun,
        );
        assert.deepEqual(entry(r, 'bad-percent').reasons, [
          `exists, but its keycloak secret from the file was revoked here at ${iso(revokedAt)}: consumers still sending it get 401`,
        ]);
        assert.deepEqual(entry(r, 'umlaut').reasons, [
          `exists, but its keycloak secret from the file expired here at ${iso(expiredAt)}: consumers still sending it get 401`,
        ]);
        assert.deepEqual(entry(r, 'plus-percent').reasons, [
          'exists with other settings than in the file: disabled here, enabled in the file (consumers get 401 until it is enabled: clients enable). Left as it is: change it with clients update if the file is right',
        ]);
        assert.deepEqual(
          entry(r, 'zaaksysteem-123456782').reasons,
          ['exists: left as it is'],
          'a client as the file has it is fine',
        );
      }
      assert.deepEqual(await registry(), before);
      // The report is right: the revoked secret gets 401.
      assert.equal((await basicToken(basicAuth('bad-percent', BAD_PERCENT))).status, 401);
    });

    it('the registry refuses __proto__, constructor and prototype keys in claim values on every way in (here: the CLI)', async (t) => {
      const { cli, clientRows } = await setUp(t);
      for (const claims of [
        '{"urn:x:y":{"__proto__":{"polluted":1}}}',
        '{"urn:x:y":[{"a":{"constructor":{"prototype":{"p":1}}}}]}',
        '{"https://x.example/c":{"prototype":1}}',
      ]) {
        const r = await cli(
          'clients',
          'create',
          '--client-id',
          'proto-claims',
          '--rsin',
          '000000000',
          '--claims',
          claims,
        );
        assert.equal(r.code, 1, r.stdout);
        assert.match(r.stderr, /holds the key "(__proto__|constructor|prototype)", which is not accepted in claims/);
      }
      assert.deepEqual(await clientRows(['proto-claims']), []);
    });

    it('Open Zaak: a client id listed a million times (100 Applicaties of 10,000) is read at once', async (t) => {
      const { dir, env } = await setUp(t);
      const ids = JSON.stringify(Array(10_000).fill('repeated'));
      const records = [
        JSON.stringify({
          model: 'vng_api_common.jwtsecret',
          pk: 1,
          fields: { identifier: 'repeated', secret: strong(6) },
        }),
        ...Array.from(
          { length: 100 },
          (_, i) =>
            `{"model":"authorizations.applicatie","pk":${i},"fields":{"label":"${i ? `A${i}` : ''}","client_ids":${ids}}}`,
        ),
      ];
      const dump = path.join(dir, 'oz-repeated.json');
      fs.writeFileSync(dump, `[${records.join(',')}]`);
      try {
        // Quadratic work would take hours here; linear takes a moment. The kill only ends a test that hangs.
        const { stdout } = await run(
          process.execPath,
          [CLI, 'migrate', 'open-zaak', '--file', dump, '--rsin', '123456782', '--dry-run', '--json'],
          {
            env: { ...process.env, ...env },
            timeout: 120_000,
          },
        );
        const r = JSON.parse(stdout) as MigrationReport;
        assert.deepEqual(
          r.clients.map((c) => [c.clientId, c.status, c.name, c.notes]),
          [['repeated', 'imported', 'A1', ['listed by 100 Applicaties: named after the first']]],
        );
      } finally {
        fs.rmSync(dump);
      }
    });
  });
}
