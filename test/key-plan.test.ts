import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from '#kysely';
import { CLI_ACTOR } from '../src/cli/context.js';
import { keyPlan, keyTimes } from '../src/keys/key-plan.js';
import { rotateKey } from '../src/keys/rotate-key.js';
import { KyselyKeyStore } from '../src/storage/kysely-key-store.js';
import { migrate } from '../src/storage/migrations.js';
import { openStorage, type Storage } from '../src/storage/open-storage.js';
import {
  basicAuth,
  Clock,
  type DialectName,
  decodePart,
  eventually,
  migratedPostgres,
  postForm,
  rawDatabase,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';

/**
 * The key plan under any sequence of rotations, emergency rotations, admin API rotations, restarts
 * and passing time, on one SQLite server and on two servers sharing a PostgreSQL database: every
 * token stays active at /introspect and its kid stays in the JWKS until its exp, on every server;
 * exactly one key signs, the same on every server; each superseded key is audited.
 */

// Short lifetimes so that the generated clock steps cross activations and retirements.
// One issuer for all servers, as behind one address.
const ENV = {
  ZGW_AUTH_ISSUER: 'https://auth.zgw.test',
  ZGW_AUTH_SIGNING_ALG: 'ES256',
  ZGW_AUTH_TOKEN_LIFETIME: '600',
  ZGW_AUTH_MAX_TOKEN_LIFETIME: '600',
  ZGW_AUTH_KEY_PUBLISH_DELAY: '120',
};

type Op =
  /** `keys rotate --publish-delay <delay>`: the use case the CLI runs, on server `at`. */
  | { kind: 'rotate'; delay: number; at: number }
  /** `keys rotate --now`. */
  | { kind: 'rotate-now'; at: number }
  /** POST /admin/keys/rotate: `{"publishDelay": delay}`, or `{"now": true}` when delay is null. */
  | { kind: 'admin'; delay: number | null; at: number }
  | { kind: 'restart'; at: number }
  | { kind: 'advance'; seconds: number };

const server = fc.nat(1);
const delay = fc.integer({ min: 0, max: 400 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('rotate' as const), delay, at: server }),
  fc.record({ kind: fc.constant('rotate-now' as const), at: server }),
  fc.record({ kind: fc.constant('admin' as const), delay: fc.option(delay, { nil: null }), at: server }),
  fc.record({ kind: fc.constant('restart' as const), at: server }),
  fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 1, max: 900 }) }),
);

/** The reported sequence: a pending key, an emergency rotation, then the pending key's start and its tokens' lifetime. */
const REPORTED: Op[] = [
  { kind: 'rotate', delay: 300, at: 0 },
  { kind: 'rotate-now', at: 1 },
  { kind: 'advance', seconds: 301 },
  { kind: 'advance', seconds: 400 },
  { kind: 'restart', at: 0 },
  { kind: 'advance', seconds: 250 },
];

interface Issued {
  token: string;
  kid: string;
  /** Epoch ms. */
  exp: number;
}

/** Servers sharing one store and one test clock. */
class Deployment {
  private tokens: Issued[] = [];
  private constructor(
    private readonly servers: TestServer[],
    private readonly clock: Clock,
    private readonly restartOptions: Parameters<typeof startTestServer>[0],
    private readonly client: { clientId: string; secret: string },
    private readonly admin: { clientId: string; secret: string },
    private readonly drop: () => Promise<void>,
  ) {}

  static async start(dialect: DialectName, count: number): Promise<Deployment> {
    const clock = new Clock();
    // Migrated already (a template's copy): the key plan is what runs here, not the migrations.
    const pg = dialect === 'postgres' ? await migratedPostgres() : undefined;
    const options = {
      clock,
      env: ENV,
      masterKey: crypto.randomBytes(32).toString('base64'),
      ...(pg ? { databaseUrl: pg.url } : { dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-key-plan-')) }),
    };
    const servers: TestServer[] = [];
    try {
      for (let i = 0; i < count; i++) servers.push(await startTestServer(options));
      const client = await servers[0]!.createClient({ allowedScopes: ['zgw-auth:introspect'] });
      return new Deployment(servers, clock, options, client, servers[0]!.admin, async () => pg?.drop());
    } catch (err) {
      for (const s of servers) await s.close();
      await pg?.drop();
      throw err;
    }
  }

  async apply(op: Op): Promise<void> {
    if (op.kind === 'advance') return this.clock.advance(op.seconds);
    const at = op.at % this.servers.length;
    const ts = this.servers[at]!;
    if (op.kind === 'restart') {
      await ts.close();
      this.servers[at] = await startTestServer(this.restartOptions);
      return;
    }
    let kid: string;
    if (op.kind === 'admin') {
      const token = await ts.token(this.admin.clientId, this.admin.secret);
      const res = await request(`${ts.url}/admin/keys/rotate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(op.delay === null ? { now: true } : { publishDelay: op.delay }),
      });
      assert.equal(res.status, 200, res.text);
      kid = res.json.kid;
    } else {
      kid = (await rotateKey(ts.app, op.kind === 'rotate-now' ? { now: true } : { publishDelay: op.delay }, CLI_ACTOR))
        .kid;
    }
    // Every other server has the rotation through the change feed before the checks.
    for (const other of this.servers)
      assert.ok(
        await eventually(async () => (await other.app.keys.get(kid)) !== undefined, 5000),
        'the rotation reached every server',
      );
  }

  /** A token from every server, signed by the one key the plan says signs now. */
  async issue(): Promise<void> {
    const [plan] = await this.plans();
    const active = plan!.filter((k) => k.state === 'active').map((k) => k.kid);
    assert.equal(active.length, 1, `exactly one key signs: ${JSON.stringify(plan)}`);
    for (const ts of this.servers) {
      const token = await ts.token(this.client.clientId, this.client.secret);
      const kid = decodePart(token, 0).kid as string;
      assert.equal(kid, active[0], 'every server signs with the key of the plan');
      this.tokens.push({ token, kid, exp: (decodePart(token, 1).exp as number) * 1000 });
    }
  }

  async check(): Promise<void> {
    const now = this.clock.now();
    this.tokens = this.tokens.filter((t) => t.exp > now);
    for (const ts of this.servers) {
      const kids = ((await request(`${ts.url}/jwks`)).json.keys as { kid: string }[]).map((k) => k.kid);
      for (const t of this.tokens) {
        assert.ok(
          kids.includes(t.kid),
          `kid ${t.kid} published until ${new Date(t.exp).toISOString()} (now ${new Date(now).toISOString()})`,
        );
        const res = await postForm(
          `${ts.url}/introspect`,
          { token: t.token },
          { authorization: basicAuth(this.client.clientId, this.client.secret) },
        );
        assert.equal(
          res.json.active,
          true,
          `token of ${t.kid} active until ${new Date(t.exp).toISOString()} (now ${new Date(now).toISOString()})`,
        );
      }
    }
  }

  /** The plan of every server: all the same. */
  async plans() {
    const plans = await Promise.all(this.servers.map((ts) => ts.app.keys.list()));
    for (const p of plans.slice(1)) assert.deepEqual(p, plans[0], 'every server derives the same plan');
    return plans;
  }

  /** Each superseded key is audited as such, once. */
  async checkAudit(): Promise<void> {
    const [plan] = await this.plans();
    const superseded = plan!.filter((k) => k.state === 'superseded').map((k) => k.kid);
    const events = await this.servers[0]!.app.audit.list({ action: 'key.superseded' });
    assert.deepEqual(events.map((e) => e.target).sort(), superseded.sort());
  }

  async close(): Promise<void> {
    for (const ts of this.servers) await ts.close();
    await this.drop();
  }
}

async function holdsFor(dialect: DialectName, servers: number, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops) => {
      const d = await Deployment.start(dialect, servers);
      try {
        await d.issue();
        for (const step of ops) {
          await d.apply(step);
          await d.issue();
          await d.check();
        }
        await d.checkAudit();
      } finally {
        await d.close();
      }
    }),
    // Each run starts real servers: a failure is reported as found, not shrunk for minutes.
    { numRuns, examples: [[REPORTED]], endOnFailure: true },
  );
}

describe('key plan: superseded keys', () => {
  it('a key superseded long before its start leaves the JWKS at once; one starting within the propagation time stays until its tokens could have expired', async () => {
    const ts = await startTestServer({ env: ENV });
    try {
      const jwks = async () => ((await request(`${ts.url}/jwks`)).json.keys as { kid: string }[]).map((k) => k.kid);
      const times = keyTimes(ts.config);
      const far = await rotateKey(ts.app, { publishDelay: 300 }, CLI_ACTOR);
      const urgent = await rotateKey(ts.app, { now: true }, CLI_ACTOR);
      assert.deepEqual(urgent.superseded, [far.kid]);
      assert.ok(!(await jwks()).includes(far.kid), 'never signed: unpublished at once');

      // Another server may not have seen the supersession yet when this one's start comes: it may sign.
      const near = await rotateKey(ts.app, { publishDelay: Math.floor(times.propagationMs / 2000) }, CLI_ACTOR);
      const again = await rotateKey(ts.app, { now: true }, CLI_ACTOR);
      assert.deepEqual(again.superseded, [near.kid]);
      assert.equal(
        decodePart(await ts.token(ts.admin.clientId, ts.admin.secret), 0).kid,
        again.kid,
        'the superseded key does not sign here',
      );
      assert.ok((await jwks()).includes(near.kid), 'published while its tokens could live');
      const info = (await ts.app.keys.list()).find((k) => k.kid === near.kid)!;
      assert.deepEqual([info.state, info.retiresAt], ['superseded', ts.clock.now() + times.retentionMs]);
    } finally {
      await ts.close();
    }
  });
});

// The two deployments have servers, databases and clocks of their own: they run at the same time.
describe('key plan: every token verifiable until its exp, whatever rotations follow', { concurrency: true }, () => {
  it('SQLite, one server with restarts', () => holdsFor('sqlite', 1, 20));
  it('PostgreSQL, two servers sharing the database, with restarts', () => holdsFor('postgres', 2, 10));
});

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`migration 0006_signing_key_supersession: ${dialect}`, () => {
    it('keys of before plan by their activation, whatever retirement a rotation wrote; a supersession still sets retires_at for older versions', async () => {
      const earlier = await rawDatabase(dialect);
      let storage: Storage | undefined;
      const T = Date.UTC(2030, 0, 1);
      const L = 600_000;
      try {
        await migrate(earlier.db, dialect, '0005_clients_by_last_token');
        // As the earlier version left the reported sequence: B pending, then C at once, its rotation
        // writing one retirement over A and B alike.
        const row = (kid: string, activates: number, retires: number | null) =>
          sql`INSERT INTO signing_keys (kid, alg, public_jwk, private_key_sealed, created_at, activates_at, retires_at) VALUES (${kid}, 'ES256', ${JSON.stringify({ kty: 'EC', kid })}, 'sealed', ${T}, ${activates}, ${retires})`.execute(
            earlier.db,
          );
        await row('a', T, T + 10 + L + 60_000);
        await row('b', T + 300_000, T + 10 + L + 60_000);
        await row('c', T + 10, null);
        await earlier.db.destroy();

        storage = await openStorage(earlier.url, fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-key-plan-')), {
          create: false,
        });
        const store = new KyselyKeyStore(storage.db);
        const times = { retentionMs: L + 100_000, propagationMs: 40_000 };
        const plan = () =>
          store
            .list()
            .then((keys) =>
              keyPlan(keys, times).map((k) => [k.stored.kid, k.stored.supersededAt, k.signsUntil, k.retiresAt]),
            );
        assert.deepEqual(await plan(), [
          ['a', null, T + 10, T + 10 + times.retentionMs],
          ['c', null, T + 300_000, T + 300_000 + times.retentionMs],
          ['b', null, null, null],
        ]);

        const next = { ...(await store.list())[0]!, kid: 'd', createdAt: T + 20, activatesAt: T + 20 };
        assert.deepEqual(await store.rotate(next, T + 20), ['b']);
        const b = await storage.db
          .selectFrom('signing_keys')
          .selectAll()
          .where('kid', '=', 'b')
          .executeTakeFirstOrThrow();
        assert.deepEqual(
          [b.superseded_at, b.retires_at],
          [T + 20, T + 20],
          'older versions retire by retires_at: they stop signing with it too',
        );
      } finally {
        await storage?.close();
        await earlier.drop();
      }
    });
  });
}
