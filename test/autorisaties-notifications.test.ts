import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { loadConfig } from '../src/config.js';
import { notificatie } from '../src/autorisaties/notifications.js';
import { KyselyNotificationOutbox, writeNotification } from '../src/storage/kysely-notification-outbox.js';
import addFormatsModule from 'ajv-formats';
import {
  type DialectName,
  DIALECTS,
  eventually,
  firstAdminSecret,
  freshPostgres,
  type HttpResult,
  postForm,
  RealClock,
  request,
  startServeProcess,
  startTestServer,
  type TestServer,
} from './helpers.js';

/**
 * The Notificaties API's own request bodies (see the fixture's $comment for the source): every
 * message zgw-auth sends is checked against them by the receiver below.
 */
const SCHEMAS = JSON.parse(
  fs.readFileSync(
    path.resolve(
      path.dirname(fileURLToPath(import.meta.url)),
      '../../test/fixtures/notificaties-api-1.0.0-schemas.json',
    ),
    'utf8',
  ),
) as { Notificatie: object; Kanaal: object };
const ajv = new Ajv({ strict: false, allErrors: true });
(addFormatsModule as unknown as { default: (a: Ajv) => void }).default(ajv);
const notificatieSchema = ajv.compile(SCHEMAS.Notificatie);
const kanaalSchema = ajv.compile(SCHEMAS.Kanaal);

const CLIENT_ID = 'zgw-auth-publisher';
const SECRET = crypto.randomBytes(24).toString('base64url');
const BASE = '/autorisaties/api/v1';
/** Bounded waits: generous, never asserted as durations. */
const WAIT = 30_000;

interface Received {
  kanaal: string;
  hoofdObject: string;
  resource: string;
  resourceUrl: string;
  actie: string;
  aanmaakdatum: string;
  kenmerken?: Record<string, string>;
}

/** hold: the next notification is taken in and never answered (the connection stays open). */
type Mode = 'ok' | 'unavailable' | 'every-other' | 'refuse-next' | 'hold';

/**
 * A Notificaties API as far as zgw-auth uses it: GET/POST /kanaal and POST /notificaties, each
 * request's token checked (HS256 with the shared secret, zgw-auth's client id) and each body
 * checked against the standard's schema. What it could not accept is kept in `problems`.
 */
class Receiver {
  accepted: Received[] = [];
  kanalen: Array<{ naam: string; documentatieLink?: string; filters?: string[] }> = [];
  kanaalPosts = 0;
  problems: string[] = [];
  mode: Mode = 'ok';
  /** Notificaties refused with 503 (mode unavailable). */
  refused = 0;
  /** The notification taken in by mode hold, and whether its connection is still open. */
  held: { message: Received; open: boolean } | undefined;
  private toggle = false;
  private server: http.Server | undefined;
  port = 0;

  get url() {
    return `http://127.0.0.1:${this.port}/api/v1`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.answer(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Gone: connections are refused until start() again (on the same port). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }

  for(resourceUrl: string): string[] {
    return this.accepted.filter((m) => m.resourceUrl === resourceUrl).map((m) => m.actie);
  }

  private answer(req: http.IncomingMessage, body: string, res: http.ServerResponse) {
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const tokenProblem = checkToken(req.headers.authorization);
    if (tokenProblem) {
      this.problems.push(tokenProblem);
      return send(403, { code: 'permission_denied' });
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/api/v1/kanaal')
      return send(
        200,
        this.kanalen.filter((k) => k.naam === url.searchParams.get('naam')),
      );
    if (req.method === 'POST' && url.pathname === '/api/v1/kanaal') {
      const kanaal = JSON.parse(body) as Receiver['kanalen'][number];
      if (!kanaalSchema(kanaal)) {
        this.problems.push(`kanaal: ${ajv.errorsText(kanaalSchema.errors)}`);
        return send(400, {});
      }
      this.kanaalPosts++;
      this.kanalen.push(kanaal);
      return send(201, kanaal);
    }
    if (req.method === 'POST' && url.pathname === '/api/v1/notificaties') {
      if (this.mode === 'unavailable') return (this.refused++, send(503, { code: 'unavailable' }));
      if (this.mode === 'hold') {
        this.mode = 'ok';
        const held = { message: JSON.parse(body) as Received, open: true };
        this.held = held;
        res.on('close', () => (held.open = false));
        return;
      }
      if (this.mode === 'every-other' && (this.toggle = !this.toggle)) return send(503, { code: 'unavailable' });
      if (this.mode === 'refuse-next') {
        this.mode = 'ok';
        return send(400, { code: 'invalid', invalidParams: [] });
      }
      if (!this.kanalen.some((k) => k.naam === 'autorisaties')) this.problems.push('notification before its kanaal');
      const message = JSON.parse(body) as Received;
      if (!notificatieSchema(message)) this.problems.push(`notificatie: ${ajv.errorsText(notificatieSchema.errors)}`);
      const extra = Object.keys(message).filter(
        (k) => !['kanaal', 'hoofdObject', 'resource', 'resourceUrl', 'actie', 'aanmaakdatum', 'kenmerken'].includes(k),
      );
      if (extra.length) this.problems.push(`notificatie has unknown fields ${extra.join(',')}`);
      this.accepted.push(message);
      return send(201, message);
    }
    this.problems.push(`unexpected ${req.method} ${req.url}`);
    send(404, {});
  }
}

/** A self-signed ZGW token of zgw-auth's client id, signed with the shared secret; else what is wrong. */
function checkToken(authorization: string | undefined): string | undefined {
  const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(authorization ?? '');
  if (!m) return `no bearer token: ${String(authorization).slice(0, 20)}`;
  const [, h, p, s] = m;
  const expected = crypto.createHmac('sha256', SECRET).update(`${h}.${p}`).digest();
  const given = Buffer.from(s!, 'base64url');
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return 'bad signature';
  const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
  if (header.alg !== 'HS256') return `alg ${header.alg}`;
  if (claims.client_id !== CLIENT_ID || claims.iss !== CLIENT_ID) return `client ${claims.client_id}`;
  if (typeof claims.iat !== 'number' || Math.abs(claims.iat - Date.now() / 1000) > 600) return 'iat';
  return undefined;
}

const settings = (receiver: Receiver) => ({
  ZGW_AUTH_NOTIFICATIONS_URL: receiver.url,
  ZGW_AUTH_NOTIFICATIONS_CLIENT_ID: CLIENT_ID,
  ZGW_AUTH_NOTIFICATIONS_SECRET: SECRET,
  ZGW_AUTH_NOTIFICATIONS_TIMEOUT: '5',
  // Short waits between attempts: the outage below lasts a moment.
  ZGW_AUTH_NOTIFICATIONS_RETRY_MAX: '1',
  // Made in a millisecond, where each RSA key (the default) costs 0.1-0.5 s of CPU: the signing
  // algorithm is no part of what is sent to the Notificaties API.
  ZGW_AUTH_SIGNING_ALG: 'EdDSA',
});

async function metric(ts: TestServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = ts.app.metrics.registry.getSingleMetric(name);
  if (!m) return 0;
  const values = (await m.get()).values.filter((v) =>
    Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
  );
  return values.reduce((sum, v) => sum + v.value, 0);
}

async function outboxRows(ts: TestServer) {
  return ts.app.storage.db.selectFrom('notification_outbox').selectAll().orderBy('id').execute();
}

describe('notification settings', () => {
  const ok = { ZGW_AUTH_NOTIFICATIONS_CLIENT_ID: CLIENT_ID, ZGW_AUTH_NOTIFICATIONS_SECRET: SECRET };
  it('accept https anywhere and http to this machine only; need a client id and a secret of 16+ characters', () => {
    assert.equal(
      loadConfig({ ...ok, ZGW_AUTH_NOTIFICATIONS_URL: 'https://nrc.example.nl/api/v1/' }).notificationsUrl,
      'https://nrc.example.nl/api/v1',
    );
    assert.ok(loadConfig({ ...ok, ZGW_AUTH_NOTIFICATIONS_URL: 'http://127.0.0.1:9/api/v1' }).notificationsUrl);
    assert.equal(loadConfig({}).notificationsUrl, undefined);
    for (const bad of ['http://nrc.example.nl/api/v1', 'https://u:p@nrc.example.nl', 'https://nrc/?a=1', 'nrc'])
      assert.throws(() => loadConfig({ ...ok, ZGW_AUTH_NOTIFICATIONS_URL: bad }), /ZGW_AUTH_NOTIFICATIONS_URL must be/);
    assert.throws(
      () => loadConfig({ ZGW_AUTH_NOTIFICATIONS_URL: 'https://nrc.example.nl' }),
      /needs ZGW_AUTH_NOTIFICATIONS_CLIENT_ID and ZGW_AUTH_NOTIFICATIONS_SECRET/,
    );
    const short = 'short-secret';
    assert.throws(
      () => loadConfig({ ...ok, ZGW_AUTH_NOTIFICATIONS_SECRET: short }),
      (err: Error) => /16 to 512/.test(err.message) && !err.message.includes(short),
    );
    assert.throws(() => loadConfig({ ...ok, ZGW_AUTH_NOTIFICATIONS_TIMEOUT: '0' }), /ZGW_AUTH_NOTIFICATIONS_TIMEOUT/);
  });
});

describe('without ZGW_AUTH_NOTIFICATIONS_URL', () => {
  it('nothing is published and nothing is written to the outbox', async () => {
    const ts = await startTestServer({ dialect: 'sqlite', env: { ZGW_AUTH_SIGNING_ALG: 'EdDSA' } });
    try {
      assert.equal(ts.app.notifications, undefined);
      const token = await ts.token(ts.admin.clientId, ts.admin.secret);
      const client = await ts.createClient();
      const made = await request(`${ts.url}${BASE}/applicaties`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ clientIds: [client.clientId], label: 'x', heeftAlleAutorisaties: true }),
      });
      assert.equal(made.status, 201, made.text);
      assert.equal((await outboxRows(ts)).length, 0);
      assert.equal(ts.app.metrics.registry.getSingleMetric('zgw_auth_notifications_outbox_depth'), undefined);
    } finally {
      await ts.close();
    }
  });
});

describe('the outbox: claims', () => {
  for (const dialect of DIALECTS)
    it(`a claim is renewed only while it is the one taken: one that lapsed and was taken again is not (${dialect})`, async () => {
      // No delivery loop here (no notifications configured): the test alone claims.
      const ts = await startTestServer({ dialect, env: { ZGW_AUTH_SIGNING_ALG: 'EdDSA' } });
      try {
        const outbox = new KyselyNotificationOutbox(ts.app.storage.db);
        const t0 = Date.now();
        for (const applicatie of ['a', 'b'])
          await writeNotification(ts.app.storage.db, {
            applicatie,
            message: notificatie(`https://ac.example/applicaties/${applicatie}`, 'create', t0),
            at: t0,
          });
        const claimed = await outbox.claim(t0, t0 + 1000, 10);
        const [a, b] = claimed.map((e) => e.id);
        assert.equal(claimed.length, 2);
        // Both claims lapsed, and another process took the rows again: the first claim renews nothing.
        assert.deepEqual(
          (await outbox.claim(t0 + 2000, t0 + 9000, 10)).map((e) => e.id),
          [a, b],
        );
        assert.deepEqual(await outbox.extend([a!, b!], t0 + 1000, t0 + 5000), []);
        assert.deepEqual((await outbox.extend([a!, b!], t0 + 9000, t0 + 12_000)).sort(), [a, b].sort());
        const rows = await ts.app.storage.db.selectFrom('notification_outbox').select(['claimed_until']).execute();
        assert.deepEqual(
          rows.map((r) => Number(r.claimed_until)),
          [t0 + 12_000, t0 + 12_000],
        );
      } finally {
        await ts.close();
      }
    });
});

for (const dialect of DIALECTS) suite(dialect);

function suite(dialect: DialectName) {
  describe(`Autorisaties API notifications (${dialect})`, () => {
    const receiver = new Receiver();
    let ts: TestServer;
    let token: string;

    const ac = async (method: string, p: string, body?: unknown): Promise<HttpResult> => {
      const res = await request(`${ts.url}${BASE}${p}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      assert.ok(res.status < 500, res.text);
      return res;
    };
    /** A new applicatie of a new client; its URL. */
    const create = async (label = 'Zaaksysteem'): Promise<string> => {
      const client = await ts.createClient();
      const res = await ac('POST', '/applicaties', {
        clientIds: [client.clientId],
        label,
        autorisaties: [{ component: 'ztc', scopes: ['catalogi.lezen'] }],
      });
      assert.equal(res.status, 201, res.text);
      return res.json.url;
    };
    const change = async (url: string) => {
      const uuid = url.split('/').pop();
      assert.equal((await ac('PATCH', `/applicaties/${uuid}`, { label: 'gewijzigd' })).status, 200);
      const full = (await ac('GET', `/applicaties/${uuid}`)).json;
      assert.equal((await ac('PUT', `/applicaties/${uuid}`, { ...full, label: 'vervangen' })).status, 200);
      assert.equal((await ac('DELETE', `/applicaties/${uuid}`)).status, 204);
    };

    before(async () => {
      await receiver.start();
      ts = await startTestServer({ dialect, clock: new RealClock(), env: settings(receiver) });
      ts.app.notifications!.start();
      token = await ts.token(ts.admin.clientId, ts.admin.secret);
    });
    after(async () => {
      await ts?.close();
      await receiver.stop();
    });

    it('publishes create, partial_update, update and destroy once each, in order, on a kanaal it registered', async () => {
      const url = await create();
      await change(url);
      assert.ok(await eventually(async () => receiver.for(url).length >= 4, WAIT), JSON.stringify(receiver.accepted));
      assert.deepEqual(receiver.for(url), ['create', 'partial_update', 'update', 'destroy']);
      const first = receiver.accepted.find((m) => m.resourceUrl === url)!;
      assert.equal(first.kanaal, 'autorisaties');
      assert.equal(first.resource, 'applicatie');
      assert.equal(first.hoofdObject, url);
      assert.deepEqual(first.kenmerken, {});
      assert.ok(url.startsWith(`${ts.url}${BASE}/applicaties/`), url);
      // Registered once, as the standard's Kanaal.
      assert.equal(receiver.kanaalPosts, 1);
      assert.deepEqual(receiver.kanalen[0]!.filters, []);
      assert.equal(receiver.kanalen[0]!.documentatieLink, `${ts.url}${BASE}`);
      assert.deepEqual(receiver.problems, []);
      assert.ok(await eventually(async () => (await outboxRows(ts)).length === 0, WAIT), 'delivered rows leave');
      assert.ok((await metric(ts, 'zgw_auth_notifications_total', { outcome: 'delivered' })) >= 4);
      assert.equal(await metric(ts, 'zgw_auth_notifications_outbox_depth'), 0);
    });

    it('a refused write publishes nothing: the notification is written in the transaction of the change', async () => {
      const client = await ts.createClient();
      const body = { clientIds: [client.clientId], label: 'a', heeftAlleAutorisaties: true };
      const first = await ac('POST', '/applicaties', body);
      assert.equal(first.status, 201);
      // The same client id again: refused inside the transaction (ac-001).
      const twice = await ac('POST', '/applicaties', { ...body, label: 'b' });
      assert.equal(twice.status, 400, twice.text);
      const made = first.json.url;
      assert.ok(await eventually(async () => receiver.for(made).length === 1, WAIT));
      // Nothing waits and nothing else arrived: the refused applicatie has no row and no message.
      assert.ok(await eventually(async () => (await outboxRows(ts)).length === 0, WAIT));
      // Every create that arrived is of an applicatie that exists, or whose destroy arrived too.
      for (const m of receiver.accepted.filter((x) => x.actie === 'create' && x.resourceUrl.startsWith(ts.url))) {
        const exists = (await ac('GET', `/applicaties/${m.resourceUrl.split('/').pop()}`)).status === 200;
        assert.ok(exists || receiver.for(m.resourceUrl).includes('destroy'), `a create of nothing: ${m.resourceUrl}`);
      }
    });

    it('a Notificaties API failing every other request: each notification arrives once, in order', async () => {
      receiver.mode = 'every-other';
      try {
        const url = await create();
        await change(url);
        assert.ok(await eventually(async () => receiver.for(url).length >= 4, WAIT), JSON.stringify(receiver.for(url)));
        assert.deepEqual(receiver.for(url), ['create', 'partial_update', 'update', 'destroy']);
        assert.ok((await metric(ts, 'zgw_auth_notifications_total', { outcome: 'retried' })) > 0);
      } finally {
        receiver.mode = 'ok';
      }
    });

    it('the Notificaties API away (503, then refused connections) and back: everything arrives, in order', async () => {
      receiver.mode = 'unavailable';
      const a = await create('a');
      const b = await create('b');
      await change(a);
      assert.ok(await eventually(async () => (await metric(ts, 'zgw_auth_notifications_outbox_depth')) >= 5, WAIT));
      await receiver.stop();
      const c = await create('c');
      await change(b);
      // Attempts against a closed port failed and were put off, not dropped.
      assert.ok(
        await eventually(
          async () => (await outboxRows(ts)).some((r) => Number(r.attempts) > 0 && r.last_error?.includes('POST')),
          WAIT,
        ),
      );
      assert.equal(receiver.for(a).length + receiver.for(b).length + receiver.for(c).length, 0);
      receiver.mode = 'ok';
      await receiver.start();
      assert.ok(
        await eventually(
          async () => receiver.for(a).length >= 4 && receiver.for(b).length >= 4 && receiver.for(c).length >= 1,
          WAIT,
        ),
        JSON.stringify([receiver.for(a), receiver.for(b), receiver.for(c)]),
      );
      assert.deepEqual(receiver.for(a), ['create', 'partial_update', 'update', 'destroy']);
      assert.deepEqual(receiver.for(b), ['create', 'partial_update', 'update', 'destroy']);
      assert.deepEqual(receiver.for(c), ['create']);
      assert.ok(await eventually(async () => (await metric(ts, 'zgw_auth_notifications_outbox_depth')) === 0, WAIT));
      assert.deepEqual(receiver.problems, []);
    });

    it('a notification refused for good (4xx) is kept as failed, logged and counted; later ones go on', async () => {
      receiver.mode = 'refuse-next';
      const url = await create();
      assert.ok(await eventually(async () => (await outboxRows(ts)).some((r) => r.failed_at !== null), WAIT));
      const uuid = url.split('/').pop();
      assert.equal((await ac('DELETE', `/applicaties/${uuid}`)).status, 204);
      assert.ok(await eventually(async () => receiver.for(url).includes('destroy'), WAIT));
      assert.deepEqual(receiver.for(url), ['destroy'], 'the refused create is not sent again');
      // Delivered rows leave; the failed one stays, not counted as waiting.
      assert.ok(await eventually(async () => (await metric(ts, 'zgw_auth_notifications_outbox_depth')) === 0, WAIT));
      const failed = await outboxRows(ts);
      assert.equal(failed.length, 1);
      assert.notEqual(failed[0]!.failed_at, null);
      assert.match(String(failed[0]!.last_error), /400/);
      assert.equal(JSON.parse(failed[0]!.message).actie, 'create');
      assert.equal(await metric(ts, 'zgw_auth_notifications_total', { outcome: 'failed' }), 1);
      assert.ok(ts.logs.some((l) => l.includes('refused a notification for good')));
      // Neither the secret nor a token of it is logged.
      assert.ok(!ts.logs.some((l) => l.includes(SECRET)));
    });
  });

  describe(`Autorisaties API notifications survive a crash (${dialect})`, () => {
    it('killed (SIGKILL) while a notification is being sent, then started again: it is delivered, nothing is lost, in order per applicatie', async (t) => {
      const receiver = new Receiver();
      await receiver.start();
      t.after(() => receiver.stop());
      const pg = dialect === 'postgres' ? await freshPostgres() : undefined;
      if (pg) t.after(() => pg.drop());
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-outbox-crash-'));
      const env = {
        ...settings(receiver),
        // A short request timeout: the claim of a notification whose sender died lapses soon after.
        ZGW_AUTH_NOTIFICATIONS_TIMEOUT: '2',
        ZGW_AUTH_HOST: '127.0.0.1',
        ZGW_AUTH_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
        ...(pg ? { DATABASE_URL: pg.url } : {}),
      };
      let proc = await startServeProcess(dataDir, env);
      t.after(() => proc.stop('SIGKILL'));
      const admin = { id: 'zgw-auth-admin', secret: firstAdminSecret(proc.output())! };
      const tokenOf = async () =>
        (
          await postForm(`${proc.url}/token`, {
            grant_type: 'client_credentials',
            client_id: admin.id,
            client_secret: admin.secret,
          })
        ).json.access_token as string;
      const token = await tokenOf();
      const call = async (method: string, p: string, body?: unknown) => {
        const res = await request(`${proc.url}${p}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        assert.ok(res.status < 300, `${method} ${p}: ${res.status} ${res.text}`);
        return res;
      };
      /** A new client and an applicatie of it; the applicatie's path (the port changes with the restart). */
      const create = async (label: string) => {
        const client = await call('POST', '/admin/clients', { rsin: '000000000' });
        const made = await call('POST', `${BASE}/applicaties`, {
          clientIds: [client.json.client.clientId],
          label,
          heeftAlleAutorisaties: true,
        });
        const url = made.json.url as string;
        return url.slice(url.indexOf(BASE));
      };
      const uuidOf = (p: string) => p.split('/').pop()!;

      // The Notificaties API away: the first start's applicatie (of the administrator) and five
      // changes of two more wait in the outbox.
      receiver.mode = 'unavailable';
      const bootUrl = (await call('GET', `${BASE}/applicaties/consumer?clientId=${admin.id}`)).json[0].url as string;
      const boot = bootUrl.slice(bootUrl.indexOf(BASE));
      const x = await create('x');
      await call('PATCH', `${BASE}/applicaties/${uuidOf(x)}`, { label: 'x2' });
      const y = await create('y');
      await call('PATCH', `${BASE}/applicaties/${uuidOf(y)}`, { label: 'y2' });
      await call('DELETE', `${BASE}/applicaties/${uuidOf(x)}`);
      assert.ok(await eventually(async () => receiver.refused > 0, WAIT), 'attempts were made');

      // Back, but it holds the next notification open; while it does, the process is killed.
      receiver.mode = 'hold';
      assert.ok(await eventually(async () => receiver.held !== undefined, WAIT), 'a notification is being sent');
      const held = receiver.held!;
      // Read as the signal goes: its request must still be open then (not timed out, not answered).
      const openAtKill = held.open;
      assert.equal(await proc.stop('SIGKILL'), null);
      assert.equal(openAtKill, true, 'the kill came while the notification was being sent');
      // The oldest notification of an applicatie (which one goes first depends on their retry times).
      assert.equal(held.message.actie, 'create');
      assert.ok([boot, x, y].some((p) => held.message.resourceUrl.endsWith(p)));

      proc = await startServeProcess(dataDir, env);
      const arrived = (p: string) => receiver.accepted.filter((m) => m.resourceUrl.endsWith(p)).map((m) => m.actie);
      assert.ok(
        await eventually(
          async () => arrived(boot).length >= 1 && arrived(x).length >= 3 && arrived(y).length >= 2,
          WAIT * 2,
        ),
        JSON.stringify([arrived(boot), arrived(x), arrived(y)]),
      );
      assert.deepEqual(arrived(boot), ['create']);
      // At least once: the held one was never answered, so it is sent again; each once accepted, in order.
      assert.deepEqual(arrived(x), ['create', 'partial_update', 'destroy']);
      assert.deepEqual(arrived(y), ['create', 'partial_update']);
      const depth = async () => {
        const metrics = await request(`${proc.url}/metrics`);
        return Number(/^zgw_auth_notifications_outbox_depth (\d+)/m.exec(metrics.text)?.[1] ?? NaN);
      };
      assert.ok(await eventually(async () => (await depth()) === 0, WAIT), 'nothing left waiting');
      assert.deepEqual(receiver.problems, []);
    });
  });

  describe(`Autorisaties API notifications survive a stop (${dialect})`, () => {
    it('two processes on one database: each notification is sent once, in order per applicatie', async () => {
      const receiver = new Receiver();
      await receiver.start();
      const pg = dialect === 'postgres' ? await freshPostgres() : undefined;
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-outbox-'));
      const options = {
        dialect,
        masterKey: crypto.randomBytes(32).toString('base64'),
        clock: new RealClock(),
        env: settings(receiver),
        ...(pg ? { databaseUrl: pg.url } : { dataDir }),
      };
      const one = await startTestServer(options);
      let two: TestServer | undefined;
      try {
        two = await startTestServer(options);
        one.app.notifications!.start();
        two.app.notifications!.start();
        // Each process issues with its own address as issuer: a token of each for its own API.
        const tokens = new Map<TestServer, string>([
          [one, await one.token(one.admin.clientId, one.admin.secret)],
          [two, await two.token(one.admin.clientId, one.admin.secret)],
        ]);
        const call = (ts: TestServer, method: string, p: string, body?: unknown) =>
          request(`${ts.url}${BASE}${p}`, {
            method,
            headers: {
              authorization: `Bearer ${tokens.get(ts)}`,
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
        // Changes through both processes, interleaved, to five applicaties.
        const paths: string[] = [];
        for (let k = 0; k < 5; k++) {
          const client = await one.createClient();
          const made = await call(k % 2 ? one : two!, 'POST', '/applicaties', {
            clientIds: [client.clientId],
            label: `app ${k}`,
            heeftAlleAutorisaties: true,
          });
          assert.equal(made.status, 201, made.text);
          paths.push(made.json.url.slice(made.json.url.indexOf(BASE)));
        }
        for (const [k, p] of paths.entries()) {
          const uuid = p.split('/').pop();
          assert.equal((await call(k % 2 ? two! : one, 'PATCH', `/applicaties/${uuid}`, { label: 'x' })).status, 200);
          assert.equal((await call(k % 2 ? one : two!, 'DELETE', `/applicaties/${uuid}`)).status, 204);
        }
        const arrived = (p: string) => receiver.accepted.filter((m) => m.resourceUrl.endsWith(p)).map((m) => m.actie);
        assert.ok(
          await eventually(async () => paths.every((p) => arrived(p).length >= 3), WAIT),
          JSON.stringify(paths.map(arrived)),
        );
        assert.ok(await eventually(async () => (await outboxRows(one)).length === 0, WAIT));
        for (const p of paths) assert.deepEqual(arrived(p), ['create', 'partial_update', 'destroy'], p);
        assert.deepEqual(receiver.problems, []);
      } finally {
        await two?.close();
        await one.close();
        await receiver.stop();
        await pg?.drop();
      }
    });

    it('rows left undelivered at a stop are delivered after the next start, in order', async () => {
      const receiver = new Receiver();
      await receiver.start();
      await receiver.stop();
      const pg = dialect === 'postgres' ? await freshPostgres() : undefined;
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-outbox-'));
      const masterKey = crypto.randomBytes(32).toString('base64');
      const options = {
        dialect,
        masterKey,
        clock: new RealClock(),
        env: settings(receiver),
        ...(pg ? { databaseUrl: pg.url } : { dataDir }),
      };
      let first: TestServer | undefined = await startTestServer(options);
      let second: TestServer | undefined;
      try {
        first.app.notifications!.start();
        const token = await first.token(first.admin.clientId, first.admin.secret);
        const client = await first.createClient();
        const made = await request(`${first.url}${BASE}/applicaties`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ clientIds: [client.clientId], label: 'x', heeftAlleAutorisaties: true }),
        });
        assert.equal(made.status, 201, made.text);
        const uuid = made.json.url.split('/').pop();
        const gone = await request(`${first.url}${BASE}/applicaties/${uuid}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(gone.status, 204);
        // The receiver is away: the attempts fail and the rows stay.
        assert.ok(
          await eventually(
            async () => (await outboxRows(first!)).filter((r) => Number(r.attempts) > 0).length >= 2,
            WAIT,
          ),
        );
        await first.close();
        first = undefined;

        await receiver.start();
        second = await startTestServer(options);
        second.app.notifications!.start();
        const url = made.json.url as string;
        const path = url.slice(url.indexOf(BASE));
        const arrived = () => receiver.accepted.filter((m) => m.resourceUrl.endsWith(path)).map((m) => m.actie);
        assert.ok(await eventually(async () => arrived().length >= 2, WAIT), JSON.stringify(receiver.accepted));
        assert.deepEqual(arrived(), ['create', 'destroy']);
        assert.ok(await eventually(async () => (await outboxRows(second!)).length === 0, WAIT));
        assert.deepEqual(receiver.problems, []);
      } finally {
        await first?.close();
        await second?.close();
        await receiver.stop();
        await pg?.drop();
      }
    });
  });
}
