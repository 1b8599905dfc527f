import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  AutorisatieRefused,
  type AutorisatiesUnavailable,
  createAutorisaties,
  remoteApplicaties,
  type RemoteApplicatiesOptions,
} from '@zgw-auth/verifier';

/**
 * The Autorisaties API over HTTP as an untrusted source: a stub AC answers whatever a test sets,
 * hostile or odd included. Every answer that is not an applicatie of the asked client id refuses
 * (fail closed, 503 "unavailable" or 403 "no applicatie"), nothing throws out of `decide`, no
 * failure is cached, and the cache follows notifications. (test/autorisaties-decisions.test.ts
 * does the same against a real zgw-auth.)
 */
const ZT = 'https://ztc.example/zaaktypen/1';
const UUID = '6f1e7d9a-3b7c-4c52-9a1d-0d3f4b8e2c11';
const applicatie = (clientId: string, scopes = ['zaken.lezen'], extra: Record<string, unknown> = {}) => ({
  url: `https://ac.example/autorisaties/api/v1/applicaties/${UUID}`,
  clientIds: [clientId],
  label: 'Zaaksysteem',
  heeftAlleAutorisaties: false,
  autorisaties: [
    { component: 'zrc', componentWeergave: 'x', scopes, zaaktype: ZT, maxVertrouwelijkheidaanduiding: 'geheim' },
  ],
  ...extra,
});
const READ = {
  component: 'zrc',
  scopes: ['zaken.lezen'],
  object: { zaaktype: ZT, vertrouwelijkheidaanduiding: 'intern' },
};

type Answer = (req: http.IncomingMessage, res: http.ServerResponse) => void;
const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Answer =>
  (_req, res) =>
    res
      .writeHead(status, { 'content-type': 'application/json', ...headers })
      .end(typeof body === 'string' ? body : JSON.stringify(body));

describe('an Autorisaties API over HTTP as the source', () => {
  let server: http.Server;
  let base: string;
  let answer: Answer;
  let requests: Array<{ url: string; authorization: string | undefined }>;
  let held: http.ServerResponse[] = [];
  /** What the stub's token endpoint answers. */
  let tokenAnswer: (n: number) => Answer;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => void unhandled.push(err);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = http.createServer((req, res) => {
      requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
      if (req.url?.startsWith('/token')) {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => tokenAnswer(requests.length)(req, res));
        return;
      }
      answer(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    requests = [];
    answer = json(200, [applicatie('c')]);
    tokenAnswer = (n) => json(200, { access_token: `token-${n}`, token_type: 'Bearer', expires_in: 300 });
  });
  after(async () => {
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    process.off('unhandledRejection', onUnhandled);
    assert.deepEqual(unhandled, [], 'no promise was left to reject unhandled');
  });

  const source = (extra: Partial<RemoteApplicatiesOptions> = {}) => {
    const errors: AutorisatiesUnavailable[] = [];
    const applicaties = remoteApplicaties({
      url: `${base}/autorisaties/api/v1/`,
      credentials: { selfSigned: { clientId: 'zaken-api', secret: 'a-secret-of-the-zaken-api' } },
      onError: (e) => errors.push(e),
      ...extra,
    });
    return { applicaties, autorisaties: createAutorisaties({ applicaties }), errors };
  };

  it('asks GET {url}/applicaties/consumer?clientId= with a self-signed token; a list (1.0.x) or one object', async () => {
    const { autorisaties } = source();
    assert.deepEqual(await autorisaties.decide('c', READ), { allowed: true });
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.url, '/autorisaties/api/v1/applicaties/consumer?clientId=c');
    const [, payload] = requests[0]!.authorization!.replace(/^Bearer /, '').split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    assert.equal(claims.client_id, 'zaken-api');
    assert.equal(claims.iss, 'zaken-api');
    assert.equal(typeof claims.iat, 'number');

    answer = json(200, applicatie('d'));
    assert.deepEqual(await source().autorisaties.decide('d', READ), { allowed: true });
    // A client id that needs escaping is sent escaped.
    answer = json(200, [applicatie('a&b=c d')]);
    assert.equal((await source().autorisaties.decide('a&b=c d', READ)).allowed, true);
    assert.equal(requests.at(-1)!.url, '/autorisaties/api/v1/applicaties/consumer?clientId=a%26b%3Dc%20d');
  });

  it("no applicatie: a JSON 404 (the AC's Fout) or an empty list refuses the client (403)", async () => {
    for (const a of [json(404, { code: 'not_found', title: 'Niet gevonden.', status: 404 }), json(200, [])]) {
      answer = a;
      const { autorisaties, errors } = source();
      assert.deepEqual(await autorisaties.decide('c', READ), { allowed: false, reason: 'unknown_client' });
      await assert.rejects(
        autorisaties.check('c', READ),
        (e: unknown) => e instanceof AutorisatieRefused && e.status === 403,
      );
      assert.deepEqual(errors, []);
    }
  });

  it("an applicatie that does not name the asked client id is another client's: refused", async () => {
    answer = json(200, [
      applicatie('someone-else', ['zaken.lezen'], { heeftAlleAutorisaties: true, autorisaties: [] }),
    ]);
    assert.deepEqual(await source().autorisaties.decide('c', READ), { allowed: false, reason: 'unknown_client' });
    answer = json(200, applicatie('someone-else'));
    assert.deepEqual(await source().autorisaties.decide('c', READ), { allowed: false, reason: 'unknown_client' });
  });

  for (const [name, a] of [
    ['a 500 with an applicatie-shaped body', json(500, [applicatie('c')])],
    ['a 503', json(503, { code: 'unavailable' })],
    ['a 401 (this API not accepted)', json(401, { code: 'not_authenticated' })],
    ['a 403 (this API lacks autorisaties.lezen)', json(403, { code: 'permission_denied' })],
    ['a 400', json(400, { code: 'invalid' })],
    ['an HTML 404 (not an AC at this URL)', json(404, '<html>Not Found</html>', { 'content-type': 'text/html' })],
    ['a 200 that is not JSON', json(200, '<html>hello</html>', { 'content-type': 'text/html' })],
    ['a 200 of truncated JSON', json(200, '[{"clientIds": ["c"]')],
    ['a 200 of null', json(200, 'null')],
    ['a 200 of a string', json(200, '"c"')],
    ['a 200 of a number', json(200, '42')],
    ['an applicatie without clientIds', json(200, [{ heeftAlleAutorisaties: true, autorisaties: [] }])],
    ['clientIds that are not strings', json(200, [{ ...applicatie('c'), clientIds: [['c']] }])],
    ['heeftAlleAutorisaties a string', json(200, [{ ...applicatie('c'), heeftAlleAutorisaties: 'true' }])],
    ['autorisaties an object', json(200, [{ ...applicatie('c'), autorisaties: { component: 'zrc' } }])],
    ['an autorisatie without scopes', json(200, [{ ...applicatie('c'), autorisaties: [{ component: 'zrc' }] }])],
    [
      'scopes a string',
      json(200, [{ ...applicatie('c'), autorisaties: [{ component: 'zrc', scopes: 'zaken.lezen' }] }]),
    ],
    ['two applicaties for one client id', json(200, [applicatie('c'), applicatie('c', ['zaken.verwijderen'])])],
    ['a redirect', (_req, res) => res.writeHead(302, { location: 'https://elsewhere.example/' }).end()],
    ['a connection closed mid-answer', (_req, res) => res.socket?.destroy()],
  ] as Array<[string, Answer]>) {
    it(`${name}: unavailable, refused (503), reported, never thrown`, async () => {
      answer = a;
      const { autorisaties, errors } = source();
      assert.deepEqual(await autorisaties.decide('c', READ), { allowed: false, reason: 'unavailable' });
      await assert.rejects(
        autorisaties.check('c', READ),
        (e: unknown) => e instanceof AutorisatieRefused && e.status === 503 && e.reason === 'unavailable',
      );
      assert.ok(errors.length >= 1, 'the failure reached onError');
      // Not cached: the AC answering properly again is believed at once.
      answer = json(200, [applicatie('c')]);
      assert.deepEqual(await autorisaties.decide('c', READ), { allowed: true });
    });
  }

  it('a __proto__ key in an answer grants nothing and pollutes nothing', async () => {
    answer = json(200, '[{"__proto__": {"heeftAlleAutorisaties": true}, "clientIds": ["c"]}]');
    assert.deepEqual(await source().autorisaties.decide('c', READ), { allowed: false, reason: 'insufficient_scope' });
    assert.equal(({} as Record<string, unknown>).heeftAlleAutorisaties, undefined);
  });

  it('an AC that does not answer in time: unavailable after the timeout, not for ever', async () => {
    answer = (_req, res) => void held.push(res);
    const { autorisaties, errors } = source({ timeoutMs: 200 });
    assert.deepEqual(await autorisaties.decide('c', READ), { allowed: false, reason: 'unavailable' });
    assert.match(errors[0]!.message, /cannot be reached|without JSON/);
    for (const res of held) res.destroy();
    held = [];
  });

  it('an answer larger than maxResponseBytes is refused without reading it all', async () => {
    const big = [{ ...applicatie('c'), label: 'x'.repeat(200_000) }];
    answer = json(200, big);
    const { autorisaties } = source({ maxResponseBytes: 50_000 });
    assert.deepEqual(await autorisaties.decide('c', READ), { allowed: false, reason: 'unavailable' });
    // Without a content-length too (chunked).
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify(big).slice(0, 30_000));
      res.end(JSON.stringify(big).slice(30_000));
    };
    assert.deepEqual(await source({ maxResponseBytes: 50_000 }).autorisaties.decide('c', READ), {
      allowed: false,
      reason: 'unavailable',
    });
  });

  it('the cache is bounded by the size of the answers it keeps, not only by their number', async () => {
    answer = (req, res) => {
      const id = new URL(req.url!, base).searchParams.get('clientId')!;
      json(200, [{ ...applicatie(id), label: 'x'.repeat(4000) }])(req, res);
    };
    const ids = Array.from({ length: 12 }, (_, i) => `client-${i}`);
    const ask = async (extra: Partial<RemoteApplicatiesOptions>) => {
      requests = [];
      const { autorisaties } = source(extra);
      for (const id of ids) assert.equal((await autorisaties.decide(id, READ)).allowed, true);
      for (const id of ids) assert.equal((await autorisaties.decide(id, READ)).allowed, true);
      return requests.length;
    };
    assert.equal(await ask({}), ids.length, 'by default twelve answers of 4 kB are all kept');
    // 12 answers of over 4 kB do not fit in 20 kB: the first ones asked were dropped and asked again.
    assert.ok((await ask({ maxCacheBytes: 20_000 })) > ids.length, 'answers past the byte bound are not kept');
  });

  it('a token endpoint answering more than a token is refused unread: unavailable, nothing asked of the AC', async () => {
    tokenAnswer = () => json(200, { access_token: 'token-x', token_type: 'Bearer', padding: 'x'.repeat(200_000) });
    const { autorisaties, errors } = source({
      credentials: { clientCredentials: { tokenEndpoint: `${base}/token`, clientId: 'zaken-api', clientSecret: 's' } },
    });
    assert.deepEqual(await autorisaties.decide('c', READ), { allowed: false, reason: 'unavailable' });
    assert.match(errors[0]!.message, /no credentials for the Autorisaties API: the token endpoint answered 200/);
    assert.deepEqual(
      requests.map((r) => r.url),
      ['/token'],
    );
  });

  it('an AC that cannot be reached at all (connection refused): unavailable', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const applicaties = remoteApplicaties({
      url: `http://127.0.0.1:${port}/autorisaties/api/v1`,
      credentials: { selfSigned: { clientId: 'zaken-api', secret: 's' } },
    });
    assert.deepEqual(await createAutorisaties({ applicaties }).decide('c', READ), {
      allowed: false,
      reason: 'unavailable',
    });
  });

  it('client credentials: one token for many questions; a 401 gets a new token and one retry', async () => {
    const { autorisaties, applicaties } = source({
      credentials: { clientCredentials: { tokenEndpoint: `${base}/token`, clientId: 'zaken-api', clientSecret: 's' } },
    });
    answer = (req, res) => {
      const id = new URL(req.url!, base).searchParams.get('clientId')!;
      json(200, [applicatie(id)])(req, res);
    };
    for (const id of ['c', 'd', 'e']) assert.equal((await autorisaties.decide(id, READ)).allowed, true);
    assert.equal(requests.filter((r) => r.url === '/token').length, 1, 'one token');
    const token = requests.at(-1)!.authorization;
    assert.match(token!, /^Bearer token-\d+$/);
    // The AC refuses that token once (it was revoked): a new token, the question again, allowed.
    let refused = false;
    answer = (req, res) => {
      if (!refused) {
        refused = true;
        return json(401, { code: 'not_authenticated' })(req, res);
      }
      json(200, [applicatie('f')])(req, res);
    };
    applicaties.forget();
    assert.equal((await autorisaties.decide('f', READ)).allowed, true);
    assert.equal(requests.filter((r) => r.url === '/token').length, 2, 'a second token');
    assert.notEqual(requests.at(-1)!.authorization, token);
  });

  it('answers are cached per client id for maxAgeMs, "no applicatie" too; concurrent questions share one request', async () => {
    let t = 1_000_000;
    const { autorisaties } = source({ now: () => t, maxAgeMs: 60_000 });
    const all = await Promise.all(Array.from({ length: 20 }, () => autorisaties.decide('c', READ)));
    assert.ok(all.every((d) => d.allowed));
    assert.equal(requests.length, 1, 'twenty questions at once, one request');
    answer = json(200, [applicatie('c', ['zaken.verwijderen'])]);
    t += 59_000;
    assert.equal((await autorisaties.decide('c', READ)).allowed, true, 'within the max age: the cached answer');
    assert.equal(requests.length, 1);
    t += 2_000;
    assert.deepEqual(await autorisaties.decide('c', READ), { allowed: false, reason: 'insufficient_scope' });
    assert.equal(requests.length, 2);
    // A clock stepped back does not make an answer live longer.
    t -= 120_000;
    await autorisaties.decide('c', READ);
    assert.equal(requests.length, 3);

    answer = json(404, { code: 'not_found' });
    assert.equal((await autorisaties.decide('x', READ)).allowed, false);
    assert.equal((await autorisaties.decide('x', READ)).allowed, false);
    assert.equal(requests.length, 4, '"no applicatie" is cached as well');
  });

  it('a notification of its applicatie drops its answer and every "no applicatie"; other kanalen and applicaties keep theirs', async () => {
    const t = 1_000_000;
    const { autorisaties, applicaties } = source({ now: () => t });
    answer = (req, res) => {
      const id = new URL(req.url!, base).searchParams.get('clientId')!;
      if (id === 'nobody') return json(404, { code: 'not_found' })(req, res);
      json(200, [
        id === 'c'
          ? applicatie('c')
          : { ...applicatie(id), url: `https://ac.example/applicaties/${UUID.replace('6', '7')}` },
      ])(req, res);
    };
    for (const id of ['c', 'other', 'nobody']) await autorisaties.decide(id, READ);
    assert.equal(requests.length, 3);
    const change = (
      actie: string,
      url = `https://another-host.example/autorisaties/api/v1/applicaties/${UUID.toUpperCase()}`,
    ) => ({
      kanaal: 'autorisaties',
      hoofdObject: url,
      resource: 'applicatie',
      resourceUrl: url,
      actie,
      aanmaakdatum: new Date(t).toISOString(),
      kenmerken: {},
    });
    assert.equal(applicaties.notified({ ...change('update'), kanaal: 'zaken' }), 0, 'another kanaal');
    // Named by uuid: the notification may carry another address of the AC than this API asks at.
    assert.equal(applicaties.notified(change('partial_update')), 2, "c's applicatie and the one 'no applicatie'");
    for (const id of ['c', 'other', 'nobody']) await autorisaties.decide(id, READ);
    assert.deepEqual(
      requests.slice(3).map((r) => new URL(r.url, base).searchParams.get('clientId')),
      ['c', 'nobody'],
      'the other applicatie stayed cached',
    );
    // As text too (a raw body), and whatever cannot be read drops everything.
    assert.equal(applicaties.notified(JSON.stringify(change('destroy'))), 2);
    for (const unreadable of [
      '{',
      'null',
      [],
      { kanaal: 'autorisaties', actie: 'create' },
      { kanaal: 'autorisaties', resourceUrl: 'x', actie: 'opgeblazen' },
    ])
      assert.ok(applicaties.notified(unreadable) >= 0);
    await autorisaties.decide('other', READ);
    assert.equal(
      requests.at(-1)!.url.endsWith('clientId=other'),
      true,
      'an unreadable notification dropped the other applicatie too',
    );
  });

  it('an answer asked for before a notification is not kept after it (it may predate the change)', async () => {
    let release: (() => void) | undefined;
    const { autorisaties, applicaties } = source();
    answer = (req, res) => {
      release = () => json(200, [applicatie('c')])(req, res);
    };
    const asked = autorisaties.decide('c', READ);
    while (!release) await new Promise((r) => setTimeout(r, 5));
    applicaties.notified({
      kanaal: 'autorisaties',
      resourceUrl: `https://ac.example/applicaties/${UUID}`,
      hoofdObject: `https://ac.example/applicaties/${UUID}`,
      actie: 'update',
    });
    answer = json(200, [applicatie('c', ['zaken.verwijderen'])]);
    release();
    assert.equal((await asked).allowed, true, 'the question in flight gets its (old) answer');
    assert.deepEqual(await autorisaties.decide('c', READ), { allowed: false, reason: 'insufficient_scope' });
    assert.equal(requests.length, 2, 'asked again: the old answer was not cached');
  });

  it('answers fetched shortly after a notification live only until settleMs after it', async () => {
    let t = 1_000_000;
    const { autorisaties, applicaties } = source({ now: () => t, settleMs: 1000, maxAgeMs: 60_000 });
    applicaties.notified({ kanaal: 'autorisaties', resourceUrl: `https://ac/applicaties/${UUID}`, actie: 'update' });
    t += 100;
    // An AC process that has not seen the change yet answers the old rights.
    await autorisaties.decide('c', READ);
    t += 500;
    await autorisaties.decide('c', READ);
    assert.equal(requests.length, 1, 'cached within the settling time');
    answer = json(200, [applicatie('c', ['zaken.verwijderen'])]);
    t += 500;
    assert.deepEqual(await autorisaties.decide('c', READ), { allowed: false, reason: 'insufficient_scope' });
    assert.equal(requests.length, 2, 'asked again once the settling time was over, not after the full max age');
  });

  it('a URL that is not one is refused when the source is made', () => {
    assert.throws(() =>
      remoteApplicaties({ url: 'not a url', credentials: { selfSigned: { clientId: 'a', secret: 'b' } } }),
    );
  });
});
