import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ORG_ADMIN_SCOPE } from '../src/clients/model.js';
import { consoleSignIn } from './console-helpers.js';
import {
  CLI,
  Clock,
  type DialectName,
  forEachDialect,
  freshPostgres,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { makeTestPki, type TestPki } from './pki/test-pki.js';

const run = promisify(execFile);
const DAY_S = 86_400;
const ORG_A = '123456782';
const ORG_B = '111222333';

interface KeyView {
  kid: string;
  expiresAt: number | null;
  expiresSoon: boolean;
  expired: boolean;
}

forEachDialect((dialect: DialectName) => {
  describe(`certificates that expire: warned before, announced once (ZGW_AUTH_EXPIRY_WARNING, ${dialect})`, () => {
    let pki: TestPki;
    // One registry for the restart and the second process: a data folder, and on PostgreSQL a database.
    let database: { url: string; drop: () => Promise<void> } | undefined;
    let ts: TestServer;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-expiry-'));
    const masterKey = crypto.randomBytes(32).toString('base64');
    const clock = new Clock();
    let admin: { clientId: string; secret: string };
    let selfSignedClient: string;
    let jwtClient: string;
    let bareClient: string;

    const start = () =>
      startTestServer({ dataDir, masterKey, clock, ...(database ? { databaseUrl: database.url } : {}) });
    // A token per call: the clock moves by days between them.
    const api = async (method: string, url: string, body?: unknown) => {
      const adminToken = await ts.token(admin.clientId, admin.secret);
      const res = await request(`${ts.url}/admin${url}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      assert.ok(res.status < 300, `${method} ${url}: ${res.status} ${res.text}`);
      return res.json as { items: KeyView[] };
    };
    const keysOf = async (clientId: string) => (await api('GET', `/clients/${clientId}/keys`)).items;
    const announcements = async (app = ts.app) => app.audit.list({ action: 'client_key.expiring' });
    const gauge = async (app = ts.app) =>
      (await app.metrics.registry.metrics())
        .split('\n')
        .filter((l) => l.startsWith('zgw_auth_credentials_expiring{'))
        .sort();

    before(async () => {
      pki = makeTestPki();
      if (dialect === 'postgres') database = await freshPostgres();
      ts = await start();
      admin = ts.admin;
      // A PEM certificate for self_signed_tls_client_auth, and a private_key_jwt key with an x5c chain,
      // both valid 365 days from now; and a key without a certificate, which never expires.
      selfSignedClient = (await ts.createClient({ rsin: ORG_A, authMethods: ['self_signed_tls_client_auth'] }))
        .clientId;
      await api('POST', `/clients/${selfSignedClient}/keys`, { pem: pki.certs.selfSigned.certPem });
      jwtClient = (await ts.createClient({ rsin: ORG_B, authMethods: ['private_key_jwt'] })).clientId;
      await api('POST', `/clients/${jwtClient}/keys`, {
        jwk: { ...pki.certs.client.jwk, kid: 'with-x5c', x5c: pki.certs.client.x5c },
      });
      bareClient = (await ts.createClient({ rsin: ORG_B, authMethods: ['private_key_jwt'] })).clientId;
      const bare = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
      await api('POST', `/clients/${bareClient}/keys`, { jwk: { ...bare, kid: 'bare' } });
    });
    after(async () => {
      await ts?.close();
      pki?.remove();
      await database?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('outside the window: no key expires soon, nothing is counted or announced', async () => {
      for (const id of [selfSignedClient, jwtClient, bareClient])
        for (const k of await keysOf(id))
          assert.deepEqual([k.expiresSoon, k.expired], [false, false], `${id} ${k.kid}`);
      assert.ok((await keysOf(jwtClient))[0]!.expiresAt! > clock.now() + 300 * DAY_S * 1000);
      assert.equal((await keysOf(bareClient))[0]!.expiresAt, null);
      assert.deepEqual(await gauge(), []);
      assert.equal(await ts.app.expiry.announce(), 0);
      assert.deepEqual(await announcements(), []);
    });

    it('within 30 days: the admin API says expiresSoon, the metric counts per organisation, one audit event each', async () => {
      clock.advance(345 * DAY_S);
      const [selfSigned] = await keysOf(selfSignedClient);
      const [withX5c] = await keysOf(jwtClient);
      assert.deepEqual([selfSigned!.expiresSoon, selfSigned!.expired], [true, false]);
      assert.deepEqual([withX5c!.expiresSoon, withX5c!.expired], [true, false]);
      assert.deepEqual(
        (await keysOf(bareClient)).map((k) => k.expiresSoon),
        [false],
      );
      assert.deepEqual(await gauge(), [
        `zgw_auth_credentials_expiring{organisation="${ORG_B}",kind="certificate"} 1`,
        `zgw_auth_credentials_expiring{organisation="${ORG_A}",kind="certificate"} 1`,
      ]);

      assert.equal(await ts.app.expiry.announce(), 2);
      const events = await announcements();
      assert.deepEqual(events.map((e) => e.target).sort(), [jwtClient, selfSignedClient].sort());
      const ofJwt = events.find((e) => e.target === jwtClient)!;
      assert.equal(ofJwt.actor, 'system');
      assert.equal(ofJwt.organisation, ORG_B);
      assert.equal(ofJwt.details.kind, 'certificate');
      assert.equal(ofJwt.details.kid, 'with-x5c');
      assert.equal(ofJwt.details.expiresAt, withX5c!.expiresAt);

      // The list of expiring credentials: everything for a global administrator, its own for an organisation's.
      const listed = (await api('GET', '/credentials/expiring')) as unknown as {
        items: {
          clientId: string;
          organisation: string;
          kind: string;
          id: string;
          thumbprint: string;
          expiresAt: number;
        }[];
      };
      assert.deepEqual(listed.items.map((c) => c.clientId).sort(), [jwtClient, selfSignedClient].sort());
      assert.deepEqual(
        listed.items.find((c) => c.clientId === jwtClient),
        {
          kind: 'certificate',
          clientId: jwtClient,
          organisation: ORG_B,
          id: 'with-x5c',
          thumbprint: listed.items.find((c) => c.clientId === jwtClient)!.thumbprint,
          expiresAt: withX5c!.expiresAt,
        },
      );
      const orgAdmin = await ts.createClient({ rsin: ORG_A, allowedScopes: [ORG_ADMIN_SCOPE] });
      const asOrgAdmin = async (query: string) =>
        (
          await request(`${ts.url}/admin/credentials/expiring${query}`, {
            headers: { authorization: `Bearer ${await ts.token(orgAdmin.clientId, orgAdmin.secret)}` },
          })
        ).json as { items: { clientId: string }[] };
      assert.deepEqual(
        (await asOrgAdmin('')).items.map((c) => c.clientId),
        [selfSignedClient],
      );
      assert.deepEqual((await asOrgAdmin(`?organisation=${ORG_B}`)).items, []);

      // Checked again, a day later: no second event for the same certificates.
      clock.advance(DAY_S);
      assert.equal(await ts.app.expiry.announce(), 0);
      assert.equal((await announcements()).length, 2);
    });

    it('a restart does not announce them again: the announcement is kept in the registry', async () => {
      await ts.close();
      ts = await start();
      assert.equal(await ts.app.expiry.announce(), 0);
      assert.equal((await announcements()).length, 2);
      // Two processes on one registry checking at once: still one event per certificate.
      const second = await start();
      try {
        const renewed = pki.certs.clientRsa;
        await api('POST', `/clients/${jwtClient}/keys`, { jwk: { ...renewed.jwk, kid: 'renewed', x5c: renewed.x5c } });
        // The renewal is valid as long as the first: both processes see it enter the window now.
        const counts = await Promise.all([ts.app.expiry.announce(), second.app.expiry.announce()]);
        assert.equal(counts[0] + counts[1], 1);
        assert.equal((await announcements()).filter((e) => e.details.kid === 'renewed').length, 1);
      } finally {
        await second.close();
      }
    });

    it('the console marks the client and its key', async () => {
      const browser = await consoleSignIn(ts, admin.clientId, admin.secret);
      const page = await browser.get(`/console/clients/${jwtClient}`);
      assert.equal(page.status, 200);
      assert.match(page.text, /utrecht-status-badge--warning">verloopt binnenkort</);
      assert.match(
        page.text,
        /utrecht-alert--info[\s\S]*?Het certificaat van 2 sleutel\(s\) van deze client verloopt binnenkort/,
      );
      const list = await browser.get('/console/clients');
      const badge =
        ' <span class="utrecht-status-badge utrecht-status-badge--warning">certificaat verloopt binnenkort</span>';
      for (const [id, marked] of [
        [jwtClient, true],
        [selfSignedClient, true],
        [bareClient, false],
      ] as const) {
        const row = new RegExp(`>${id}</a>(${badge})?`).exec(list.text);
        assert.ok(row, `${id} listed`);
        assert.equal(row[1] !== undefined, marked, `${id}: badge ${marked}`);
      }
      const bare = await browser.get(`/console/clients/${bareClient}`);
      assert.doesNotMatch(bare.text, /verloopt binnenkort/);
      const audit = await browser.get('/console/audit');
      assert.match(audit.text, /Het certificaat van publieke sleutel with-x5c/);
    });

    it('the CLI marks expiring keys and the clients that have them', async () => {
      // The CLI reads the real time, at which the certificates have a year left: a window of 400 days takes them in.
      const env = {
        ...process.env,
        ZGW_AUTH_DATA_DIR: dataDir,
        ZGW_AUTH_MASTER_KEY: masterKey,
        ...(database ? { DATABASE_URL: database.url } : {}),
        ZGW_AUTH_EXPIRY_WARNING: String(400 * DAY_S),
      };
      const cli = async (...args: string[]) => (await run(process.execPath, [CLI, ...args], { env })).stdout;
      assert.match(await cli('clients', 'keys', 'list', jwtClient), /with-x5c .* expires soon/);
      assert.doesNotMatch(await cli('clients', 'keys', 'list', bareClient), /expires soon/);
      const listed = await cli('clients', 'list');
      assert.match(listed, /EXPIRING/);
      assert.match(listed, new RegExp(`${selfSignedClient} .* certificate \\S+ \\d{4}-\\d\\d-\\d\\d`));
      const json = JSON.parse(await cli('clients', 'list', '--json')) as {
        items: { clientId: string; expiringCredentials: { kind: string; id: string }[] }[];
      };
      const of = (id: string) => json.items.find((c) => c.clientId === id)!.expiringCredentials;
      assert.deepEqual(
        of(jwtClient)
          .map((c) => c.id)
          .sort(),
        ['renewed', 'with-x5c'],
      );
      assert.deepEqual(of(bareClient), []);
    });

    it('past its notAfter a certificate is expired, no longer expiring soon or counted', async () => {
      clock.advance(30 * DAY_S);
      const keys = await keysOf(selfSignedClient);
      assert.deepEqual([keys[0]!.expiresSoon, keys[0]!.expired], [false, true]);
      assert.deepEqual(await gauge(), []);
    });
  });
});
