import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { JWT_BEARER_ASSERTION_TYPE } from '../src/clients/client-assertion.js';
import { FIRST_ADMIN_CLIENT_ID } from '../src/clients/model.js';
import { tracingSettings } from '../src/tracing.js';
import { basicAuth, eventually, firstAdminSecret, postForm, request, startServeProcess } from './helpers.js';

// Traces end to end: a real `zgw-auth serve` exporting over OTLP/HTTP (JSON) to a receiver inside
// this test, a jwks_uri and a Notificaties API of its own on loopback; the spans that arrive are
// decoded and checked for their names, attributes and parents, and the whole payload for secrets.

/** One span as OTLP/JSON carries it, attributes flattened. */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  status: { code?: number };
  resource: Record<string, string | number | boolean>;
}

const SERVER = 2;
const CLIENT = 3;

/** A small OTLP/HTTP receiver: POST /v1/traces, bodies kept as they came. */
class OtlpReceiver {
  readonly bodies: Array<{ type: string; body: Buffer }> = [];
  private server!: http.Server;
  url = '';
  /** Exports to answer 400 (a collector refusing them), before accepting. */
  refuse = 0;
  refused = 0;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
        if (this.refused < this.refuse) return void (this.refused++, res.writeHead(400).end());
        this.bodies.push({ type: String(req.headers['content-type']), body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': String(req.headers['content-type']) }).end('{}');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Everything received, as text: to search for what must never be in a span. */
  text(): string {
    return this.bodies.map((b) => b.body.toString('utf8')).join('\n');
  }

  spans(): ReceivedSpan[] {
    const flat = (attrs: Array<{ key: string; value: Record<string, unknown> }> = []) =>
      Object.fromEntries(attrs.map((a) => [a.key, Object.values(a.value)[0] as string | number | boolean]));
    const out: ReceivedSpan[] = [];
    for (const { body } of this.bodies) {
      const doc = JSON.parse(body.toString('utf8')) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: Record<string, unknown> }> };
          scopeSpans: Array<{ spans: Array<Omit<ReceivedSpan, 'attributes' | 'resource'> & { attributes?: [] }> }>;
        }>;
      };
      for (const rs of doc.resourceSpans)
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            out.push({
              ...s,
              parentSpanId: s.parentSpanId ?? '',
              attributes: flat(s.attributes),
              resource: flat(rs.resource.attributes),
            });
    }
    return out;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/** A preloaded script that writes, at exit, which CommonJS modules the process loaded (the SDK's builds are CommonJS). */
function moduleDump(dir: string): { env: Record<string, string>; loaded: () => string[] } {
  const script = path.join(dir, 'dump-modules.cjs');
  const file = path.join(dir, 'modules.txt');
  fs.writeFileSync(
    script,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(file)}, Object.keys(require.cache).join('\\n')));\n`,
  );
  return {
    env: { NODE_OPTIONS: `--require=${script}` },
    loaded: () => fs.readFileSync(file, 'utf8').split('\n'),
  };
}

const SDK_MODULES = /@opentelemetry\/(sdk-trace|exporter-trace|context-async-hooks|resources|core|otlp-)/;

const ecKey = () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid: 'traced-1', alg: 'ES256', use: 'sig' } };
};

function es256(claims: Record<string, unknown>, key: crypto.KeyObject): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'ES256', kid: 'traced-1', typ: 'JWT' })}.${b64(claims)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/** A form POST whose body is sent in two writes 100 ms apart. */
function slowForm(url: string, body: string, authorization: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: {
        authorization,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(Buffer.byteLength(body)),
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.flushHeaders();
    req.write(body.slice(0, 10));
    setTimeout(() => req.end(body.slice(10)), 100);
  });
}

/** A W3C traceparent header and its parts. */
const traceparent = () => {
  const traceId = crypto.randomBytes(16).toString('hex');
  const spanId = crypto.randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-01` };
};

describe('traces over OTLP/HTTP (tracing on)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-traces-'));
  const receiver = new OtlpReceiver();
  const dump = moduleDump(dir);
  const notificationsSecret = `nrc-secret-${crypto.randomBytes(12).toString('hex')}`;
  const key = ecKey();
  /** The traceparent headers the jwks_uri and the Notificaties API received, by path. */
  const outgoing: Array<{ path: string; traceparent: string | undefined }> = [];
  let keyServer: http.Server;
  let nrc: http.Server;
  let serve: Awaited<ReturnType<typeof startServeProcess>>;
  let spans: ReceivedSpan[] = [];
  let output = '';
  // What the requests gave, checked against the spans once the process has exported them.
  const seen = {
    adminSecret: '',
    accessToken: '',
    assertion: '',
    misplacedSecret: `looks-like-a-secret-${crypto.randomBytes(12).toString('hex')}`,
    incoming: traceparent(),
    problem: {} as Record<string, unknown>,
  };

  before(async () => {
    await receiver.start();
    const listen = async (server: http.Server) => {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    keyServer = http.createServer((req, res) => {
      outgoing.push({ path: req.url ?? '', traceparent: req.headers.traceparent as string | undefined });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [key.jwk] }));
    });
    nrc = http.createServer((req, res) => {
      outgoing.push({ path: `${req.method} ${req.url}`, traceparent: req.headers.traceparent as string | undefined });
      req.resume();
      req.on('end', () => {
        if (req.method === 'GET' && req.url?.startsWith('/api/v1/kanaal'))
          return void res.writeHead(200, { 'content-type': 'application/json' }).end('[{"naam":"autorisaties"}]');
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    });
    const keyBase = await listen(keyServer);
    const nrcBase = await listen(nrc);
    serve = await startServeProcess(path.join(dir, 'data'), {
      ...dump.env,
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'zgw-auth-under-test',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      REDIS_URL: 'redis://127.0.0.1:6379/13',
      ZGW_AUTH_JWKS_URI_ALLOW: '127.0.0.1/32',
      ZGW_AUTH_NOTIFICATIONS_URL: `${nrcBase}/api/v1`,
      ZGW_AUTH_NOTIFICATIONS_CLIENT_ID: 'zgw-auth-nrc',
      ZGW_AUTH_NOTIFICATIONS_SECRET: notificationsSecret,
      // A line per request received and answered, besides the refusal's own.
      ZGW_AUTH_ACCESS_LOG: 'true',
    });
    const url = serve.url;
    seen.adminSecret = firstAdminSecret(serve.output())!;
    assert.ok(seen.adminSecret, 'the first administrator secret');
    const admin = basicAuth(FIRST_ADMIN_CLIENT_ID, seen.adminSecret);

    // /token, its secret also (wrongly) in the query string, which no span may carry.
    const token = await postForm(
      `${url}/token?client_secret=${encodeURIComponent(seen.adminSecret)}`,
      { grant_type: 'client_credentials' },
      { authorization: admin },
    );
    assert.equal(token.status, 200, token.text);
    seen.accessToken = token.json.access_token;
    const bearer = { authorization: `Bearer ${seen.accessToken}` };
    // /introspect, the token in the query string as well.
    const introspected = await postForm(
      `${url}/introspect?token=${seen.accessToken}`,
      { token: seen.accessToken },
      { authorization: admin },
    );
    assert.equal(introspected.json.active, true, introspected.text);
    // /token with its body in two parts, the second well after the headers: the handler then runs
    // on the connection's later events, still inside the request's span.
    const split = await slowForm(`${url}/token`, 'grant_type=client_credentials&scope=zgw-auth:introspect', admin);
    assert.equal(split.status, 200, split.text);
    // An admin call that the caller's own trace continues.
    const listed = await request(`${url}/admin/clients`, { headers: { ...bearer, traceparent: seen.incoming.header } });
    assert.equal(listed.status, 200, listed.text);
    // A refused admin call: a problem document.
    const refused = await request(`${url}/admin/clients`, {
      headers: { authorization: `Bearer x${seen.accessToken}` },
    });
    assert.equal(refused.status, 401);
    assert.match(String(refused.headers['content-type']), /application\/problem\+json/);
    seen.problem = refused.json;
    // A path no route has, made of a token: the span keeps the method alone.
    const nowhere = await request(`${url}/nothing/${seen.accessToken}?secret=${encodeURIComponent(seen.adminSecret)}`);
    assert.equal(nowhere.status, 404);
    // A refused /token whose client id is a secret typed in the wrong field.
    const misplaced = await postForm(`${url}/token`, {
      grant_type: 'client_credentials',
      client_id: seen.misplacedSecret,
      client_secret: 'wrong',
    });
    assert.equal(misplaced.status, 401);
    // A private_key_jwt client with a jwks_uri: its first assertion makes zgw-auth fetch its keys.
    const created = await request(`${url}/admin/clients`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({
        clientId: 'traced-keys',
        rsin: '000000000',
        authMethods: ['private_key_jwt'],
        jwksUri: `${keyBase}/jwks`,
      }),
    });
    assert.equal(created.status, 201, created.text);
    const now = Math.floor(Date.now() / 1000);
    seen.assertion = es256(
      {
        iss: 'traced-keys',
        sub: 'traced-keys',
        aud: `${url}/token`,
        iat: now,
        exp: now + 60,
        jti: crypto.randomUUID(),
      },
      key.privateKey,
    );
    const byKey = await postForm(`${url}/token`, {
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: seen.assertion,
    });
    assert.equal(byKey.status, 200, byKey.text);
    // An applicatie for it: the Autorisaties API's notification goes to the Notificaties API.
    const applicatie = await request(`${url}/admin/clients/traced-keys/applicatie`, {
      method: 'PUT',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ heeftAlleAutorisaties: true }),
    });
    assert.equal(applicatie.status, 200, applicatie.text);
    assert.ok(
      await eventually(async () => outgoing.some((o) => o.path === 'POST /api/v1/notificaties'), 10_000),
      'the notification was delivered',
    );
    // Stopped: the spans still queued are exported before the process exits.
    assert.equal(await serve.stop(), 0);
    output = serve.output();
    spans = receiver.spans();
  });

  after(async () => {
    await serve?.stop('SIGKILL');
    await receiver.close();
    for (const s of [keyServer, nrc]) {
      s?.closeAllConnections();
      await new Promise((r) => s?.close(r));
    }
  });

  const serverSpan = (route: string, predicate: (s: ReceivedSpan) => boolean = () => true) => {
    const found = spans.filter((s) => s.kind === SERVER && s.attributes['http.route'] === route && predicate(s));
    assert.ok(found.length > 0, `a server span for ${route}: ${spans.map((s) => s.name).join(', ')}`);
    return found;
  };
  const childrenOf = (parent: ReceivedSpan) =>
    spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);

  it('exports over OTLP/HTTP JSON, as the service OTEL_SERVICE_NAME names', () => {
    assert.ok(receiver.bodies.length > 0, 'spans arrived');
    for (const b of receiver.bodies) assert.match(b.type, /^application\/json/);
    assert.equal(spans[0]!.resource['service.name'], 'zgw-auth-under-test');
    assert.ok(
      dump.loaded().some((m) => SDK_MODULES.test(m)),
      'the SDK is loaded when tracing is on',
    );
  });

  it('a server span per request: method, route template, status and the authenticated client id', () => {
    const [token] = serverSpan('/token', (s) => s.attributes['http.response.status_code'] === 200);
    assert.equal(token!.name, 'POST /token');
    assert.equal(token!.attributes['http.request.method'], 'POST');
    assert.ok(
      serverSpan('/token').some((s) => s.attributes['zgw_auth.client_id'] === FIRST_ADMIN_CLIENT_ID),
      'the secret client',
    );
    // The one whose body came late: its client id still reached its span.
    assert.ok(
      serverSpan('/token').filter((s) => s.attributes['zgw_auth.client_id'] === FIRST_ADMIN_CLIENT_ID).length >= 2,
      'both /token requests of the administrator name it',
    );
    const [introspect] = serverSpan('/introspect');
    assert.equal(introspect!.name, 'POST /introspect');
    assert.equal(introspect!.attributes['http.response.status_code'], 200);
    assert.equal(introspect!.attributes['zgw_auth.client_id'], FIRST_ADMIN_CLIENT_ID);
    const listed = serverSpan('/admin/clients', (s) => s.attributes['http.request.method'] === 'GET');
    assert.ok(
      listed.some(
        (s) => s.attributes['zgw_auth.client_id'] === FIRST_ADMIN_CLIENT_ID && s.name === 'GET /admin/clients',
      ),
    );
    const created = serverSpan('/admin/clients', (s) => s.attributes['http.request.method'] === 'POST');
    assert.equal(created[0]!.attributes['http.response.status_code'], 201);
    assert.ok(
      serverSpan('/token').some((s) => s.attributes['zgw_auth.client_id'] === 'traced-keys'),
      'the private_key_jwt client',
    );
    const unmatched = spans.filter((s) => s.kind === SERVER && s.attributes['http.response.status_code'] === 404);
    assert.deepEqual(
      unmatched.map((s) => [s.name, s.attributes['http.route']]),
      [['GET', undefined]],
    );
    // A refused request: its status, and no client id, not even the one it claimed.
    const refused = serverSpan('/token', (s) => s.attributes['http.response.status_code'] === 401);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.attributes['zgw_auth.client_id'], undefined);
  });

  it("database, Redis and transaction spans are children of their request's span", () => {
    const [token] = serverSpan('/token', (s) => s.attributes['zgw_auth.client_id'] === FIRST_ADMIN_CLIENT_ID);
    const queries = childrenOf(token!).filter((s) => s.attributes['db.system.name'] === 'sqlite');
    assert.ok(
      queries.some(
        (q) => q.name === 'SELECT clients' && q.kind === CLIENT && q.attributes['db.collection.name'] === 'clients',
      ),
      `a client lookup under /token: ${childrenOf(token!)
        .map((s) => s.name)
        .join(', ')}`,
    );
    const [introspect] = serverSpan('/introspect');
    const redis = childrenOf(introspect!).filter((s) => s.attributes['db.system.name'] === 'redis');
    assert.ok(
      redis.length > 0,
      `Redis commands under /introspect: ${childrenOf(introspect!)
        .map((s) => s.name)
        .join(', ')}`,
    );
    for (const r of redis) assert.match(r.name, /^[A-Z]+$/, 'a command name, never its keys');
    // The applicatie is written in a transaction: its statements are the transaction's children.
    const [saved] = serverSpan('/admin/clients/:clientId/applicatie');
    const transaction = childrenOf(saved!).find((s) => s.name === 'transaction');
    assert.ok(
      transaction,
      `a transaction under the applicatie's request: ${childrenOf(saved!)
        .map((s) => s.name)
        .join(', ')}`,
    );
    assert.ok(
      childrenOf(transaction).some((s) => s.name.startsWith('INSERT ')),
      'its inserts inside it',
    );
  });

  it('a child span starts while its parent runs: none for a batched write after the answer', () => {
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    let children = 0;
    for (const child of spans) {
      const parent = byId.get(child.parentSpanId);
      if (!parent) continue;
      children++;
      // A millisecond's leeway: a start time may be kept to the millisecond.
      assert.ok(
        BigInt(child.startTimeUnixNano) <= BigInt(parent.endTimeUnixNano) + 1_000_000n,
        `${child.name} started after ${parent.name} had ended`,
      );
    }
    assert.ok(children > 10, 'children were checked');
  });

  it("the caller's traceparent is the server span's parent", () => {
    const [continued] = serverSpan('/admin/clients', (s) => s.traceId === seen.incoming.traceId);
    assert.equal(continued!.parentSpanId, seen.incoming.spanId);
    assert.ok(childrenOf(continued!).length > 0, 'its statements in the same trace');
  });

  it('jwks_uri fetches and notification deliveries are client spans whose traceparent goes along', () => {
    const [byKey] = serverSpan('/token', (s) => s.attributes['zgw_auth.client_id'] === 'traced-keys');
    const fetch = childrenOf(byKey!).find((s) => s.name === 'GET jwks_uri');
    assert.ok(
      fetch,
      `a jwks_uri fetch under /token: ${childrenOf(byKey!)
        .map((s) => s.name)
        .join(', ')}`,
    );
    assert.equal(fetch.kind, CLIENT);
    assert.equal(fetch.attributes['http.response.status_code'], 200);
    assert.equal(fetch.attributes['zgw_auth.client_id'], 'traced-keys');
    const sentToKeys = outgoing.find((o) => o.path === '/jwks');
    assert.equal(sentToKeys?.traceparent, `00-${fetch.traceId}-${fetch.spanId}-01`);

    const posts = spans.filter((s) => s.name === 'POST /notificaties');
    assert.ok(posts.length > 0, `a notification delivery: ${spans.map((s) => s.name).join(', ')}`);
    const sent = outgoing.filter((o) => o.path === 'POST /api/v1/notificaties').map((o) => o.traceparent);
    for (const post of posts) {
      assert.equal(post.kind, CLIENT);
      assert.equal(
        post.attributes['url.full'],
        `${new URL(String(post.attributes['url.full'])).origin}/api/v1/notificaties`,
      );
      // A round of its own: it runs after the request that wrote the change was answered.
      const round = spans.find((s) => s.spanId === post.parentSpanId);
      assert.equal(round?.name, 'deliver notifications');
      assert.equal(round.parentSpanId, '');
    }
    // On a busy machine a delivery may time out and be sent again: that attempt's span has no
    // status. Every answered one was the receiver's 201, and carried its own traceparent.
    const answered = posts.filter((s) => s.attributes['http.response.status_code'] !== undefined);
    assert.ok(answered.length > 0, 'a delivery was answered');
    for (const post of answered) {
      assert.equal(post.attributes['http.response.status_code'], 201);
      assert.ok(sent.includes(`00-${post.traceId}-${post.spanId}-01`), 'its traceparent went along');
    }
  });

  it('the trace id is in the problem document and in the log lines of that request', () => {
    const traceId = seen.problem.traceId;
    assert.match(String(traceId), /^[0-9a-f]{32}$/);
    const [refused] = serverSpan('/admin/clients', (s) => s.attributes['http.response.status_code'] === 401);
    assert.equal(refused!.traceId, traceId);
    const lines = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const logged = lines.find((l) => l.msg === 'admin API: token refused');
    assert.equal(logged?.traceId, traceId);
    assert.equal(logged?.spanId, refused!.spanId);
    // Every line of that request: received, refused, answered.
    const ofRequest = lines.filter((l) => l.reqId === logged!.reqId);
    assert.deepEqual(
      ofRequest.map((l) => [l.msg, l.traceId]),
      [
        ['incoming request', traceId],
        ['admin API: token refused', traceId],
        ['request completed', traceId],
      ],
    );
    // And the lines of every other request carry its own trace id.
    for (const l of lines.filter((x) => x.msg === 'request completed'))
      assert.match(String(l.traceId), /^[0-9a-f]{32}$/, JSON.stringify(l));
  });

  it('no secret, token, assertion or Authorization header anywhere in what was exported', () => {
    const text = receiver.text();
    for (const [what, value] of Object.entries({
      'the client secret': seen.adminSecret,
      'the access token': seen.accessToken,
      "the access token's signature": seen.accessToken.split('.')[2]!,
      'the client assertion': seen.assertion,
      'a secret sent as client id': seen.misplacedSecret,
      'the Notificaties API secret': notificationsSecret,
    }))
      assert.ok(!text.includes(value), `${what} was exported`);
    assert.doesNotMatch(text, /bearer |basic |authorization/i);
    // Nor a query string: the server spans have the route, the client spans the URL without its query.
    for (const s of spans) {
      assert.doesNotMatch(s.name, /\?/);
      for (const [name, value] of Object.entries(s.attributes)) {
        assert.ok(!name.startsWith('url.query'), name);
        if (name !== 'db.query.text') assert.doesNotMatch(String(value), /\?/, `${s.name}: ${name}`);
      }
    }
  });
});

describe('traces over OTLP/HTTP protobuf', () => {
  it('exports the spans as protobuf, the default protocol; a collector refusing an export costs its spans, never a request', async (t) => {
    const receiver = new OtlpReceiver();
    receiver.refuse = 1;
    await receiver.start();
    t.after(() => receiver.close());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-traces-proto-'));
    const serve = await startServeProcess(path.join(dir, 'data'), {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    t.after(() => serve.stop('SIGKILL'));
    const lost = traceparent();
    assert.equal((await request(`${serve.url}/health/live`, { headers: { traceparent: lost.header } })).status, 200);
    assert.ok(await eventually(async () => receiver.refused === 1, 10_000), 'the first export was refused');
    const caller = traceparent();
    assert.equal((await request(`${serve.url}/health/live`, { headers: { traceparent: caller.header } })).status, 200);
    assert.equal(await serve.stop(), 0);
    assert.ok(receiver.bodies.length > 0, 'spans arrived');
    assert.equal(receiver.bodies[0]!.type, 'application/x-protobuf');
    const body = Buffer.concat(receiver.bodies.map((b) => b.body));
    // Protobuf carries the ids as raw bytes and the names as UTF-8.
    assert.ok(body.includes(Buffer.from(caller.traceId, 'hex')), "the caller's trace id");
    assert.ok(body.includes(Buffer.from('GET /health/live')), 'the span name');
    assert.ok(!body.includes(Buffer.from(lost.traceId, 'hex')), 'the refused export is not sent again');
    // The refusal is logged once, briefly, outside any request's trace.
    const warnings = serve
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"OpenTelemetry: '));
    assert.equal(warnings.length, 1, serve.output());
    assert.doesNotMatch(warnings[0]!, /traceId|\\n/);
  });
});

describe('tracing off (no OTEL_TRACES_EXPORTER)', () => {
  it('sends nothing, loads no SDK module, and leaves problem documents and log lines as they were', async (t) => {
    const receiver = new OtlpReceiver();
    await receiver.start();
    t.after(() => receiver.close());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-traces-off-'));
    const dump = moduleDump(dir);
    // An endpoint alone does not switch tracing on.
    const serve = await startServeProcess(path.join(dir, 'data'), {
      ...dump.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: 'zgw-auth-off',
    });
    t.after(() => serve.stop('SIGKILL'));
    const secret = firstAdminSecret(serve.output())!;
    const token = await postForm(
      `${serve.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(FIRST_ADMIN_CLIENT_ID, secret) },
    );
    assert.equal(token.status, 200);
    const refused = await request(`${serve.url}/admin/clients`, {
      headers: { authorization: 'Bearer x', traceparent: traceparent().header },
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.json.traceId, undefined);
    assert.equal(await serve.stop(), 0);
    assert.equal(receiver.bodies.length, 0, 'nothing was sent');
    assert.doesNotMatch(serve.output(), /traceId/);
    const loaded = dump.loaded();
    assert.ok(loaded.length > 50, 'the module list was written');
    assert.deepEqual(
      loaded.filter((m) => SDK_MODULES.test(m)),
      [],
    );
  });
});

describe('tracing settings', () => {
  it('on only with OTEL_TRACES_EXPORTER=otlp; what cannot be honoured is refused at start', () => {
    assert.equal(tracingSettings({}), undefined);
    assert.equal(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), undefined);
    assert.equal(tracingSettings({ OTEL_TRACES_EXPORTER: 'none' }), undefined);
    assert.equal(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }), undefined);
    assert.deepEqual(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' }), { protocol: 'http/protobuf' });
    assert.deepEqual(tracingSettings({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), {
      protocol: 'http/json',
    });
    const on = { OTEL_TRACES_EXPORTER: 'otlp' };
    assert.throws(() => tracingSettings({ OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER must be otlp/);
    assert.throws(() => tracingSettings({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /gRPC is not supported/);
    assert.throws(
      () => tracingSettings({ ...on, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318' }),
      /must be an http:\/\/ or https:\/\/ URL/,
    );
    assert.throws(
      () => tracingSettings({ ...on, OTEL_TRACES_SAMPLER: 'jaeger_remote' }),
      /OTEL_TRACES_SAMPLER must be/,
    );
    assert.throws(
      () => tracingSettings({ ...on, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }),
      /from 0 to 1/,
    );
    assert.ok(
      tracingSettings({ ...on, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }),
    );
  });
});
