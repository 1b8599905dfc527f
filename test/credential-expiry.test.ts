import assert from 'node:assert/strict';
import { KyselyClientStore } from '../src/storage/kysely-client-store.js';
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
  eventually,
  firstAdminSecret,
  forEachDialect,
  migratedPostgres,
  postForm,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { registry, runCli, startAgain } from './interrupted.js';
import { makeTestPki, type TestPki } from './pki/test-pki.js';

const run = promisify(execFile);
const DAY_S = 86_400;
const ORG_A = '123456782';
const ORG_B = '111222333';
// Ed25519 signing keys: an RSA key costs tenths of a second of CPU per registry, and no test here
// depends on the signing algorithm.
const FAST_KEYS = { ZGW_AUTH_SIGNING_ALG: 'EdDSA' };

interface Listed {
  clientId: string;
  organisation: string;
  kind: string;
  id: string;
  thumbprint: string | null;
  expiresAt: number;
}

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
    // Secrets with an expiry: one entering the window with the certificates (and a revoked one
    // that would), one entering it 30 days later; and one without an expiry.
    let secretClient: { clientId: string; secretId: string };
    let revokedSecretId: string;
    let laterSecretClient: { clientId: string; secretId: string };

    const start = () =>
      startTestServer({
        dataDir,
        masterKey,
        clock,
        env: FAST_KEYS,
        ...(database ? { databaseUrl: database.url } : {}),
      });
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
    const secretAnnouncements = async () => ts.app.audit.list({ action: 'secret.expiring' });
    const gauge = async (app = ts.app) =>
      (await app.metrics.registry.metrics())
        .split('\n')
        .filter((l) => l.startsWith('zgw_auth_credentials_expiring{'))
        .sort();

    before(async () => {
      pki = makeTestPki();
      if (dialect === 'postgres') database = await migratedPostgres();
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
      const addSecret = async (clientId: string, days: number) =>
        (
          (await api('POST', `/clients/${clientId}/secrets`, {
            label: `${days} days`,
            expiresAt: clock.now() + days * DAY_S * 1000,
          })) as unknown as { secret: { secretId: string } }
        ).secret.secretId;
      const withSecret = async (rsin: string, days: number) => {
        const { clientId } = await ts.createClient({ rsin });
        return { clientId, secretId: await addSecret(clientId, days) };
      };
      secretClient = await withSecret(ORG_A, 360);
      revokedSecretId = await addSecret(secretClient.clientId, 358);
      await api('DELETE', `/clients/${secretClient.clientId}/secrets/${revokedSecretId}`);
      laterSecretClient = await withSecret(ORG_B, 400);
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
        `zgw_auth_credentials_expiring{organisation="${ORG_B}",kind="key"} 1`,
        `zgw_auth_credentials_expiring{organisation="${ORG_A}",kind="certificate"} 1`,
        `zgw_auth_credentials_expiring{organisation="${ORG_A}",kind="secret"} 1`,
      ]);

      assert.equal(await ts.app.expiry.announce(), 3);
      const events = await announcements();
      assert.deepEqual(events.map((e) => e.target).sort(), [jwtClient, selfSignedClient].sort());
      const ofJwt = events.find((e) => e.target === jwtClient)!;
      assert.equal(ofJwt.actor, 'system');
      assert.equal(ofJwt.organisation, ORG_B);
      assert.equal(ofJwt.details.kind, 'key');
      assert.equal(ofJwt.details.kid, 'with-x5c');
      assert.equal(ofJwt.details.expiresAt, withX5c!.expiresAt);
      assert.equal(events.find((e) => e.target === selfSignedClient)!.details.kind, 'certificate');
      // The secret: its own event, naming the secret (never its value); the revoked one is not announced.
      const [ofSecret, ...more] = await secretAnnouncements();
      assert.deepEqual(more, []);
      assert.deepEqual(
        [ofSecret!.target, ofSecret!.organisation, ofSecret!.actor, ofSecret!.details.kind, ofSecret!.details.secretId],
        [secretClient.clientId, ORG_A, 'system', 'secret', secretClient.secretId],
      );
      assert.equal(ofSecret!.details.daysLeft, 15);

      // The list of expiring credentials: everything for a global administrator, its own for an organisation's.
      const listed = (await api('GET', '/credentials/expiring')) as unknown as { items: Listed[] };
      // Soonest first: the secret (360 days), then the certificates (365 days).
      assert.equal(listed.items[0]!.clientId, secretClient.clientId);
      assert.deepEqual(
        listed.items
          .slice(1)
          .map((c) => c.clientId)
          .sort(),
        [jwtClient, selfSignedClient].sort(),
      );
      assert.deepEqual(
        listed.items.find((c) => c.clientId === jwtClient),
        {
          kind: 'key',
          clientId: jwtClient,
          organisation: ORG_B,
          id: 'with-x5c',
          thumbprint: listed.items.find((c) => c.clientId === jwtClient)!.thumbprint,
          expiresAt: withX5c!.expiresAt,
        },
      );
      assert.deepEqual(listed.items[0], {
        kind: 'secret',
        clientId: secretClient.clientId,
        organisation: ORG_A,
        id: secretClient.secretId,
        thumbprint: null,
        expiresAt: listed.items[0]!.expiresAt,
      });
      const orgAdmin = await ts.createClient({ rsin: ORG_A, allowedScopes: [ORG_ADMIN_SCOPE] });
      const asOrgAdmin = async (query: string, route = '/credentials/expiring') =>
        (
          await request(`${ts.url}/admin${route}${query}`, {
            headers: { authorization: `Bearer ${await ts.token(orgAdmin.clientId, orgAdmin.secret)}` },
          })
        ).json as { items: { clientId: string }[] };
      assert.deepEqual(
        (await asOrgAdmin('')).items.map((c) => c.clientId),
        [secretClient.clientId, selfSignedClient],
      );
      assert.deepEqual((await asOrgAdmin(`?organisation=${ORG_B}`)).items, []);

      // GET /admin/expiring, for scripts: the same by default, further ahead with within_days.
      const expiring = (await api('GET', '/expiring')) as unknown as {
        withinDays: number;
        until: number;
        items: Listed[];
      };
      assert.deepEqual(
        [expiring.withinDays, expiring.until, expiring.items],
        [30, clock.now() + 30 * DAY_S * 1000, listed.items],
      );
      const further = (await api('GET', '/expiring?within_days=60')) as unknown as {
        withinDays: number;
        items: Listed[];
      };
      assert.equal(further.withinDays, 60);
      assert.deepEqual(
        further.items.map((c) => c.clientId),
        [...listed.items.map((c) => c.clientId), laterSecretClient.clientId],
      );
      assert.deepEqual(
        (
          (await api('GET', `/expiring?within_days=60&organisation=${ORG_B}`)) as unknown as { items: Listed[] }
        ).items.map((c) => c.clientId),
        [jwtClient, laterSecretClient.clientId],
      );
      // An organisation's administrator: its own organisation's only, whatever it asks for.
      assert.deepEqual(
        (await asOrgAdmin('?within_days=60', '/expiring')).items.map((c) => c.clientId),
        [secretClient.clientId, selfSignedClient],
      );
      assert.deepEqual((await asOrgAdmin(`?within_days=60&organisation=${ORG_B}`, '/expiring')).items, []);
      // within_days is bounded and validated: a 400 problem document naming it, never a 500.
      const adminToken = await ts.token(admin.clientId, admin.secret);
      for (const bad of [
        '0',
        '367',
        '-1',
        '1.5',
        'abc',
        '99999999999999999999',
        '',
        '1e400',
        '-1e400',
        'Infinity',
        '9'.repeat(400),
      ]) {
        const res = await request(`${ts.url}/admin/expiring?within_days=${bad}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        assert.equal(res.status, 400, `within_days=${bad}: ${res.text}`);
        assert.match(res.headers['content-type'] ?? '', /application\/problem\+json/);
        assert.match(res.text, /within_days/, bad);
      }
      assert.equal(
        (
          await request(`${ts.url}/admin/expiring?within_days=366`, {
            headers: { authorization: `Bearer ${adminToken}` },
          })
        ).status,
        200,
      );
      assert.equal((await request(`${ts.url}/admin/expiring`)).status, 401);

      // Checked again, a day later: no second event for the same credentials.
      clock.advance(DAY_S);
      assert.equal(await ts.app.expiry.announce(), 0);
      assert.equal((await announcements()).length, 2);
      assert.equal((await secretAnnouncements()).length, 1);
    });

    it("one organisation's expiring credentials are chosen before the bound, not cut from the registry's first", async () => {
      // Of the two secrets with an expiry, organisation A's is the sooner: a bound of one applied to
      // the whole registry and then filtered would leave organisation B with nothing.
      const store = new KyselyClientStore(ts.app.storage.db);
      const until = clock.now() + 1000 * DAY_S * 1000;
      const first = await store.expiringCredentials('secret', clock.now(), until, 1);
      assert.deepEqual(
        first.map((c) => c.organisation),
        [ORG_A],
      );
      const ofB = await store.expiringCredentials('secret', clock.now(), until, 1, ORG_B);
      assert.deepEqual(
        ofB.map((c) => [c.organisation, c.id]),
        [[ORG_B, laterSecretClient.secretId]],
      );
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
        // A secret added with 20 days to go is within the window at once too.
        const { secret } = (await api('POST', `/clients/${secretClient.clientId}/secrets`, {
          label: 'short',
          expiresAt: clock.now() + 20 * DAY_S * 1000,
        })) as unknown as { secret: { secretId: string } };
        // The renewal is valid as long as the first: both processes see it enter the window now.
        const counts = await Promise.all([ts.app.expiry.announce(), second.app.expiry.announce()]);
        assert.equal(counts[0] + counts[1], 2);
        assert.equal((await announcements()).filter((e) => e.details.kid === 'renewed').length, 1);
        assert.equal((await secretAnnouncements()).filter((e) => e.details.secretId === secret.secretId).length, 1);
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
      // The badge names the kind of the client's soonest expiring credential.
      for (const [id, badge] of [
        [jwtClient, 'sleutel verloopt binnenkort'],
        [selfSignedClient, 'certificaat verloopt binnenkort'],
        [secretClient.clientId, 'geheim verloopt binnenkort'],
        [laterSecretClient.clientId, undefined],
        [bareClient, undefined],
      ] as const) {
        const row = new RegExp(
          `>${id}</a>( <span class="utrecht-status-badge utrecht-status-badge--warning" title="[^"]+">([^<]+)</span>)?`,
        ).exec(list.text);
        assert.ok(row, `${id} listed`);
        assert.equal(row[2], badge, id);
      }
      // Sorted by expiry: the soonest first, clients whose credentials never expire last.
      const sorted = (await browser.get('/console/clients?sort=expiry')).text;
      const at = (id: string) => sorted.indexOf(`>${id}</a>`);
      assert.ok(at(secretClient.clientId) > 0);
      assert.ok(at(secretClient.clientId) < at(jwtClient) && at(secretClient.clientId) < at(selfSignedClient));
      assert.ok(Math.max(at(jwtClient), at(selfSignedClient)) < at(laterSecretClient.clientId));
      assert.ok(at(laterSecretClient.clientId) < at(bareClient) && at(laterSecretClient.clientId) < at(admin.clientId));
      assert.match(sorted, /<option value="expiry" selected>Eerst verlopend<\/option>/);
      // A secret's page: the badge at the expiring secret, none at the one that never expires.
      const withSecret = await browser.get(`/console/clients/${secretClient.clientId}`);
      assert.match(
        withSecret.text,
        new RegExp(
          `${secretClient.secretId}</code>(?:(?!</tr>)[\\s\\S])*utrecht-status-badge--warning">verloopt binnenkort<`,
        ),
      );
      assert.equal(withSecret.text.match(/utrecht-status-badge--warning">verloopt binnenkort</g)?.length, 2);
      const bare = await browser.get(`/console/clients/${bareClient}`);
      assert.doesNotMatch(bare.text, /verloopt binnenkort/);
      const audit = await browser.get('/console/audit');
      assert.match(audit.text, /Het certificaat van publieke sleutel with-x5c/);
      assert.match(
        audit.text,
        new RegExp(`Geheim ${secretClient.secretId} van client ${secretClient.clientId} verloopt op`),
      );
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
      // --sort expiry: the soonest first (the secret of 360 days), clients with nothing that expires last.
      const sorted = (await cli('clients', 'list', '--sort', 'expiry')).split('\n').slice(1);
      const row = (id: string) => sorted.findIndex((l) => l.startsWith(`${id} `));
      assert.equal(row(secretClient.clientId), 0, sorted.join('\n'));
      assert.ok(row(laterSecretClient.clientId) > Math.max(row(jwtClient), row(selfSignedClient)));
      assert.ok(row(bareClient) > row(laterSecretClient.clientId));
      await assert.rejects(cli('clients', 'list', '--sort', 'soonest'), /expected one of clientId, lastToken, expiry/);
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
      // Its secret of 360 days and the one of 20 days added since.
      assert.deepEqual(
        of(secretClient.clientId).map((c) => c.kind),
        ['secret', 'secret'],
      );
      assert.ok(of(secretClient.clientId).some((c) => c.id === secretClient.secretId));
      assert.match(
        listed,
        new RegExp(`${secretClient.clientId} .* secret ${secretClient.secretId} \\d{4}-\\d\\d-\\d\\d`),
      );
    });

    it('past its notAfter a certificate is expired, no longer expiring soon or counted; a later secret enters the window', async () => {
      clock.advance(30 * DAY_S);
      const keys = await keysOf(selfSignedClient);
      assert.deepEqual([keys[0]!.expiresSoon, keys[0]!.expired], [false, true]);
      // The secret of 360 days expired too; the one of 400 days is now within the window.
      assert.deepEqual(await gauge(), [`zgw_auth_credentials_expiring{organisation="${ORG_B}",kind="secret"} 1`]);
      assert.equal(await ts.app.expiry.announce(), 1);
      const secretEvents = await secretAnnouncements();
      assert.deepEqual(
        [secretEvents.length, secretEvents[0]!.details.secretId, secretEvents[0]!.organisation],
        [3, laterSecretClient.secretId, ORG_B],
      );
      assert.equal(await ts.app.expiry.announce(), 0);
    });
  });
});

forEachDialect((dialect: DialectName) => {
  describe(`an expiry announcement cut short by a crash (${dialect})`, () => {
    // expiry:marked: killed after the mark, before its event (one transaction: neither stays);
    // expiry:announced: killed once both are written (the restart does not announce again).
    for (const point of ['expiry:marked', 'expiry:announced'])
      it(`killed at ${point}: after a restart the secret is announced exactly once`, async (t) => {
        const { dir, env: where } = await registry(t, dialect);
        const env = { ...where, ...FAST_KEYS, ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64') };
        let server = await startAgain(t, dir, env);
        const admin = { clientId: 'zgw-auth-admin', secret: firstAdminSecret(server.output())! };
        assert.ok(admin.secret, 'the first start showed the admin secret');
        const api = async (method: string, url: string, body?: unknown) => {
          const token = await postForm(`${server.url}/token`, {
            grant_type: 'client_credentials',
            client_id: admin.clientId,
            client_secret: admin.secret,
          });
          return request(`${server.url}/admin${url}`, {
            method,
            headers: {
              authorization: `Bearer ${token.json.access_token as string}`,
              ...(body ? { 'content-type': 'application/json' } : {}),
            },
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
        };
        const created = await api('POST', '/clients', { clientId: 'expiring-soon', rsin: ORG_A });
        assert.equal(created.status, 201, created.text);
        // Within the default window (30 days) at once: the next start announces it.
        const added = await api('POST', '/clients/expiring-soon/secrets', {
          label: 'short',
          expiresAt: Date.now() + 10 * DAY_S * 1000,
        });
        assert.equal(added.status, 201, added.text);
        const secretId = (added.json as { secret: { secretId: string } }).secret.secretId;
        await server.stop();

        const crashed = runCli(t, ['serve', '--port', '0'], { ...env, ZGW_AUTH_TEST_CRASH_AT: point });
        assert.equal((await crashed.exited).signal, 'SIGKILL', `reached ${point}:\n${crashed.output()}`);

        server = await startAgain(t, dir, env);
        const announced = async () =>
          (
            (await api('GET', '/audit?action=secret.expiring')).json as {
              items: { target: string; details: { secretId: string } }[];
            }
          ).items.filter((e) => e.details.secretId === secretId);
        assert.ok(await eventually(async () => (await announced()).length > 0, 10_000), 'announced after the restart');
        // A moment more, to see a second one if there were.
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual(
          (await announced()).map((e) => e.target),
          ['expiring-soon'],
        );
        await server.stop();
      });
  });
});
