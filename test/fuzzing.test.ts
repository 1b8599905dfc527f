import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createVerifier, decodeJwt, type Principal, TokenError } from '@zgw-auth/verifier';
import fc from 'fast-check';
import { registryResolver } from '../src/tokens/server-verifier.js';
import {
  basicAuth,
  forEachDialect,
  hs256,
  type HttpResult,
  request,
  startTestServer,
  type TestServer,
} from './helpers.js';

/**
 * Property-based fuzzing of every endpoint and of the verifier. Seeded: the CI run is reproducible;
 * `npm run fuzz` runs twenty times as many cases (FUZZ_RUNS=20), FUZZ_SEED picks another seed.
 * Properties: never a 5xx, never an unhandled rejection; every refusal a well-formed RFC 6749 /
 * problem+json answer; refused admin requests change nothing; every answer within a bound.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);
const runs = (n: number) => ({ seed: SEED, numRuns: n * SCALE, endOnFailure: true, includeErrorInReport: true });
// A hang, not a slow answer: on a busy machine (test files run side by side) a key rotation's key
// generation alone took over 2 s.
const RESPONSE_BOUND_MS = 10_000;

const OAUTH_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
  'temporarily_unavailable',
];

const unhandled: unknown[] = [];
process.on('unhandledRejection', (err) => unhandled.push(err));

/** Header values node:http will send: no control characters, nothing outside Latin-1. */
const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');

const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.nat({ max: 70_000 }).map((n) => 'a'.repeat(n)),
  fc.constantFrom(
    '',
    ' ',
    '%',
    '%zz',
    '\u0000',
    '\r\n',
    '=',
    '&',
    '"',
    'client_credentials',
    'zgw-auth:admin',
    '9'.repeat(400),
  ),
);

/** Bit flip, truncation, insertion or segment games on a token. */
function mutated(token: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .nat({ max: token.length - 1 })
      .chain((i) =>
        fc
          .nat({ max: 5 })
          .map((bit) => token.slice(0, i) + String.fromCharCode(token.charCodeAt(i) ^ (1 << bit)) + token.slice(i + 1)),
      ),
    fc.nat({ max: token.length }).map((i) => token.slice(0, i)),
    fc
      .tuple(fc.nat({ max: token.length }), fc.string({ maxLength: 3 }))
      .map(([i, s]) => token.slice(0, i) + s + token.slice(i)),
    fc.constantFrom(
      `${token}.${token.split('.')[2]}`,
      token.split('.').reverse().join('.'),
      token.replace(/\./g, '..'),
      `${token}=`,
    ),
  );
}

function multipart(pairs: [string, string][], variant: string): { body: string; type: string } {
  const boundary = 'fuzzBoundary7MA4YWxk';
  const parts = pairs
    .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('');
  const whole = `${parts}--${boundary}--\r\n`;
  switch (variant) {
    case 'wrong-boundary':
      return { body: whole, type: 'multipart/form-data; boundary=other' };
    case 'no-boundary':
      return { body: whole, type: 'multipart/form-data' };
    case 'truncated':
      return { body: whole.slice(0, Math.floor(whole.length / 2)), type: `multipart/form-data; boundary=${boundary}` };
    case 'no-close':
      return { body: parts, type: `multipart/form-data; boundary=${boundary}` };
    case 'bare-lf':
      return { body: whole.replace(/\r\n/g, '\n'), type: `multipart/form-data; boundary=${boundary}` };
    default:
      return { body: whole, type: `multipart/form-data; boundary=${boundary}` };
  }
}

async function timed(run: () => Promise<HttpResult>): Promise<HttpResult> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  // A request left unanswered fails its case here rather than hanging the suite.
  const unanswered = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error('no answer within the bound')), RESPONSE_BOUND_MS * 2)),
  );
  const res = await Promise.race([run(), unanswered]).finally(() => clearTimeout(timer));
  const ms = performance.now() - start;
  assert.ok(ms < RESPONSE_BOUND_MS, `answer took ${Math.round(ms)} ms`);
  return res;
}

forEachDialect(
  (dialect) =>
    void describe(`fuzzing (${dialect})`, () => {
      let ts: TestServer;
      let caller: { clientId: string; secret: string };
      let selfSigner: { clientId: string; secret: string };
      let idpToken: string;
      let selfToken: string;

      before(async () => {
        ts = await startTestServer({
          dialect,
          env: {
            ZGW_AUTH_INTROSPECTION_RATE_LIMIT: '1000000',
            ZGW_AUTH_LOCKOUT_THRESHOLD: '1000000',
            ZGW_AUTH_LOG_LEVEL: 'warn',
          },
        });
        caller = await ts.createClient({ allowedScopes: ['zgw-auth:introspect', 'zaken.lezen'] });
        selfSigner = await ts.createClient({ selfSignedAllowed: true });
        idpToken = await ts.token(caller.clientId, caller.secret);
        selfToken = hs256(
          { client_id: selfSigner.clientId, iat: Math.floor(ts.clock.now() / 1000) },
          selfSigner.secret,
        );
      });
      after(async () => {
        await ts.close();
        assert.deepEqual(unhandled, [], 'no unhandled rejection during fuzzing');
      });

      it('/token, /introspect and /revoke answer every generated request with a well-formed RFC 6749 answer', async () => {
        const tokenValue = fc.oneof(
          anyText,
          fc.constantFrom(idpToken, selfToken),
          mutated(idpToken),
          mutated(selfToken),
        );
        const key = fc.oneof(
          fc.constantFrom('grant_type', 'client_id', 'client_secret', 'scope', 'token', 'token_type_hint', 'resource'),
          fc.string({ maxLength: 20 }),
        );
        const pairs = fc.array(fc.tuple(key, fc.oneof(anyText, tokenValue)), { maxLength: 8 });
        const authorization = fc.option(
          fc.oneof(
            fc.constant(basicAuth(caller.clientId, caller.secret)),
            fc.tuple(anyText, anyText).map(([id, secret]) => basicAuth(id.slice(0, 100), secret.slice(0, 100))),
            fc.string({ maxLength: 60 }).map((s) => `Basic ${headerSafe(s)}`),
            fc.string({ maxLength: 60 }).map((s) => `Bearer ${headerSafe(s)}`),
            fc.string({ maxLength: 60 }).map(headerSafe),
          ),
          { nil: undefined },
        );
        const body = fc.oneof(
          pairs.map((p) => ({
            body: p.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'),
            type: 'application/x-www-form-urlencoded',
          })),
          fc
            .tuple(pairs, fc.constantFrom('ok', 'wrong-boundary', 'no-boundary', 'truncated', 'no-close', 'bare-lf'))
            .map(([p, v]) => multipart(p, v)),
          pairs.map((p) => ({ body: JSON.stringify(Object.fromEntries(p)), type: 'application/json' })),
          fc
            .tuple(
              fc.string({ unit: 'binary', maxLength: 300 }),
              fc.constantFrom(
                'application/x-www-form-urlencoded',
                'multipart/form-data; boundary=x',
                'text/plain',
                'application/octet-stream',
                '',
                'application/x-www-form-urlencoded; charset=utf-16',
              ),
            )
            .map(([b, t]) => ({ body: b, type: t })),
        );
        const extraHeaders = fc.dictionary(
          fc.constantFrom(
            'x-forwarded-for',
            'content-encoding',
            'transfer-encoding-x',
            'x-request-id',
            'accept',
            'origin',
          ),
          fc.string({ maxLength: 80 }).map(headerSafe),
          { maxKeys: 3 },
        );

        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom('/token', '/introspect', '/revoke'),
            body,
            authorization,
            extraHeaders,
            async (path, b, auth, extra) => {
              const headers: Record<string, string> = {
                ...extra,
                ...(b.type ? { 'content-type': b.type } : {}),
                ...(auth !== undefined ? { authorization: auth } : {}),
              };
              const res = await timed(() => request(`${ts.url}${path}`, { method: 'POST', headers, body: b.body }));
              assert.ok(res.status < 500, `${res.status} ${res.text}`);
              if (res.status >= 400) {
                assert.match(String(res.headers['content-type']), /^application\/json/);
                assert.ok(OAUTH_ERRORS.includes(res.json?.error), `error code ${res.json?.error}`);
                assert.equal(typeof res.json.error_description, 'string');
                // RFC 6749 §5.2: a challenge exactly when the caller used the Authorization header (HTTP trims spaces and tabs).
                if (res.status === 401)
                  assert.equal(
                    res.headers['www-authenticate'] !== undefined,
                    (auth ?? '').replace(/^[ \t]+|[ \t]+$/g, '') !== '',
                  );
              } else if (path === '/introspect') {
                assert.equal(typeof res.json.active, 'boolean');
                if (res.json.active)
                  assert.ok(
                    [caller.clientId, selfSigner.clientId].includes(res.json.client_id),
                    'only a real token is active',
                  );
              }
            },
          ),
          runs(1500),
        );
      });

      it('the admin API answers every generated request with problem+json and changes nothing when it refuses', async () => {
        const target = await ts.createClient({ clientId: 'fuzz-target' });
        const adminToken = await ts.token(ts.admin.clientId, ts.admin.secret);
        const snapshot = async () => {
          const db = ts.app.storage.db;
          // Usage timestamps are written in the background and are not the request's doing.
          const tables = await Promise.all([
            db
              .selectFrom('clients')
              .selectAll()
              .orderBy('client_id')
              .execute()
              .then((rows) => rows.map((r) => ({ ...r, last_token_at: undefined }))),
            db
              .selectFrom('client_secrets')
              .selectAll()
              .orderBy('secret_id')
              .execute()
              .then((rows) => rows.map((r) => ({ ...r, last_used_at: undefined }))),
            db.selectFrom('signing_keys').select(['kid', 'activates_at', 'retires_at']).orderBy('kid').execute(),
            db.selectFrom('revoked_tokens').selectAll().orderBy('jti').execute(),
          ]);
          return JSON.stringify(tables);
        };
        const id = fc
          .oneof(
            fc.constant(target.clientId),
            fc.string({ maxLength: 80 }),
            fc.string({ unit: 'binary', maxLength: 20 }),
          )
          .map(encodeURIComponent);
        const route = fc.oneof(
          fc
            .constantFrom(
              'GET /admin/clients',
              'POST /admin/clients',
              'GET /admin/audit',
              'GET /admin/keys',
              'POST /admin/keys/rotate',
            )
            .map((r) => r.split(' ') as [string, string]),
          fc
            .tuple(
              fc.constantFrom('GET', 'PATCH', 'DELETE', 'POST'),
              id,
              fc.constantFrom('', '/enable', '/disable', '/secrets'),
            )
            .map(([m, i, s]) => [m, `/admin/clients/${i}${s}`] as [string, string]),
          fc.tuple(id, id).map(([c, s]) => ['DELETE', `/admin/clients/${c}/secrets/${s}`] as [string, string]),
          fc
            .tuple(
              fc.constantFrom('GET', 'PUT', 'OPTIONS', 'HEAD'),
              fc.string({ maxLength: 30 }).map(encodeURIComponent),
            )
            .map(([m, p]) => [m, `/admin/${p}`] as [string, string]),
        );
        const query = fc.option(
          fc.dictionary(
            fc.constantFrom('limit', 'offset', 'rsin', 'enabled', 'q', 'action', 'target', 'since', 'x'),
            anyText.map((s) => s.slice(0, 300)),
            { maxKeys: 3 },
          ),
          { nil: undefined },
        );
        const clientFields = fc.record(
          {
            clientId: fc.oneof(fc.string({ maxLength: 60 }), fc.integer(), fc.constant(null)),
            rsin: fc.oneof(
              fc.constantFrom('000000000', '123456782', '123456789'),
              fc.string({ maxLength: 12 }),
              fc.double(),
            ),
            name: fc.oneof(fc.string({ maxLength: 300 }), fc.array(fc.string())),
            allowedScopes: fc.oneof(fc.array(fc.string({ maxLength: 40 }), { maxLength: 5 }), fc.string()),
            tokenLifetime: fc.oneof(fc.integer(), fc.double(), fc.constant(1e308), fc.string()),
            staticClaims: fc.oneof(
              fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
              fc.constant([]),
            ),
            selfSignedAllowed: fc.oneof(fc.boolean(), fc.string()),
            enabled: fc.oneof(fc.boolean(), fc.constant('yes')),
            value: fc.string({ maxLength: 600 }),
            expiresAt: fc.oneof(fc.integer(), fc.string({ maxLength: 30 }), fc.constantFrom(1e300, 1e16, -1)),
            alg: fc.oneof(fc.constantFrom('RS256', 'HS256', 'none'), fc.string()),
            publishDelay: fc.oneof(fc.integer(), fc.constant(-1)),
          },
          { requiredKeys: [] },
        );
        const body = fc.option(
          fc.oneof(
            clientFields.map((o) => ({ text: JSON.stringify(o), type: 'application/json' })),
            fc.jsonValue({ maxDepth: 3 }).map((v) => ({ text: JSON.stringify(v), type: 'application/json' })),
            fc
              .tuple(
                fc.string({ unit: 'binary', maxLength: 200 }),
                fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
              )
              .map(([text, type]) => ({ text, type })),
          ),
          { nil: undefined },
        );
        const auth = fc.oneof(
          { weight: 8, arbitrary: fc.constant(`Bearer ${adminToken}`) },
          fc.constantFrom(
            undefined,
            'Bearer x',
            `Bearer ${idpToken}`,
            `Basic ${Buffer.from('a:b').toString('base64')}`,
          ),
        );

        // The state as the last refused request left it: unchanged until a request succeeds, so read
        // again only after one did (or a case failed).
        let known: string | undefined;
        await fc.assert(
          fc.asyncProperty(route, query, body, auth, async ([method, path], q, b, authorization) => {
            const before = known ?? (await snapshot());
            known = undefined;
            const qs = q ? `?${new URLSearchParams(q).toString()}` : '';
            const headers: Record<string, string> = {
              ...(authorization ? { authorization } : {}),
              ...(b ? { 'content-type': b.type } : {}),
            };
            const res = await timed(() => request(`${ts.url}${path}${qs}`, { method, headers, body: b?.text }));
            assert.ok(res.status < 500, `${method} ${path}: ${res.status} ${res.text}`);
            if (res.status >= 400) {
              if (method !== 'HEAD') {
                assert.match(
                  String(res.headers['content-type']),
                  /^application\/problem\+json/,
                  `${method} ${path} ${res.status}: ${res.text.slice(0, 200)}`,
                );
                assert.equal(res.json.status, res.status);
                assert.equal(typeof res.json.title, 'string');
                assert.equal(typeof res.json.detail, 'string');
              }
              const after = await snapshot();
              assert.equal(after, before, `${method} ${path} was refused (${res.status}) but changed state`);
              known = after;
            }
          }),
          runs(1000),
        );
      });

      it('the verifier refuses every mangled or wrongly typed token with a TokenError and accepts only real ones', async () => {
        const verifier = createVerifier({
          issuer: ts.url,
          keys: ts.app.keys,
          clients: registryResolver(ts.app.authenticator),
          now: ts.clock.now,
          cache: false,
        });
        const nowS = Math.floor(ts.clock.now() / 1000);
        const check = async (token: string, accept: (p: Principal) => void) => {
          let principal: Principal;
          try {
            principal = await verifier.verify(token);
          } catch (err) {
            assert.ok(err instanceof TokenError, `not a TokenError: ${String(err)}`);
            assert.ok(err.message.length > 0 && err.message.length < 400);
            return;
          }
          accept(principal);
        };

        await fc.assert(
          fc.asyncProperty(fc.oneof(mutated(idpToken), mutated(selfToken)), async (token) => {
            await check(token, () =>
              assert.ok(
                [idpToken, selfToken].some((t) => sameJws(t, token)),
                `accepted a changed token: ${token}`,
              ),
            );
          }),
          runs(1500),
        );

        const claimValue = fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.constantFrom(
            1e308,
            -1,
            2 ** 53 + 1,
            '1700000000',
            selfSigner.clientId,
            '000000000',
            '123456782',
            nowS,
            nowS + 10_000,
          ),
        );
        const header = fc.record(
          {
            alg: fc.oneof(fc.constantFrom('HS256', 'RS256', 'none', 'ES256', 'HS512'), fc.jsonValue({ maxDepth: 1 })),
            typ: fc.jsonValue({ maxDepth: 1 }),
            kid: fc.jsonValue({ maxDepth: 1 }),
            crit: fc.jsonValue({ maxDepth: 1 }),
          },
          { requiredKeys: ['alg'] },
        );
        const claims = fc.dictionary(
          fc.constantFrom(
            'client_id',
            'iss',
            'sub',
            'iat',
            'exp',
            'nbf',
            'rsin',
            'aud',
            'scope',
            'user_id',
            'jti',
            'x',
          ),
          claimValue,
          { maxKeys: 8 },
        );
        await fc.assert(
          fc.asyncProperty(header, claims, async (h, c) => {
            await check(hs256(c, selfSigner.secret, h), (p) => {
              assert.equal(p.clientId, selfSigner.clientId);
              assert.equal(p.rsin, '000000000');
              assert.ok(Number.isFinite(p.expiresAt) && p.expiresAt >= nowS - 30, 'accepted an expired token');
            });
          }),
          runs(1500),
        );

        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.string({ unit: 'binary', maxLength: 200 }),
              fc.jsonValue().map((v) => JSON.stringify(v)),
            ),
            async (header) => {
              await check(header, () => assert.fail('accepted random input'));
            },
          ),
          runs(500),
        );
      });
    }),
);

/** Whether `candidate` decodes to exactly the JWS `original` (base64url has spare bits in its last character). */
function sameJws(original: string, candidate: string): boolean {
  try {
    const a = decodeJwt(original);
    const b = decodeJwt(candidate.trim());
    return (
      a.signature.equals(b.signature) && JSON.stringify([a.header, a.payload]) === JSON.stringify([b.header, b.payload])
    );
  } catch {
    return false;
  }
}
