// In-process verifier comparison, run as its own process pinned to one core by the harness:
// raw node:crypto, our verifier, jose, fast-jwt and jsonwebtoken on the same tokens, rounds
// interleaved. Prints one JSON object: { "<name>": [ops/s per round], ... }.
// Usage: node micro.js '{"group":"rs256","rounds":5,"ms":500}' (groups: rs256, hs256, repeated;
// each in its own process, so that one group's data does not weigh on another's heap).
import crypto from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { JWK } from 'jose';
import { type ClientRecord, createVerifier } from '@zgw-auth/verifier';
import { hs256, signJwsAsync } from '@zgw-auth/verifier/internal';
import { DEPS_DIR } from './paths.js';

const { group, rounds, ms } = JSON.parse(process.argv[2] ?? '{}') as {
  group: 'rs256' | 'hs256' | 'repeated';
  rounds: number;
  ms: number;
};
const requireDep = createRequire(path.join(DEPS_DIR, 'package.json'));
const importDep = async <T>(name: string): Promise<T> => (await import(requireDep.resolve(name))) as T;
const jose = await importDep<typeof import('jose')>('jose');
// Types of the bench-only packages are not installed with the project: used through narrow shapes.
const fastJwt = await importDep<{ createVerifier(o: object): (token: string) => unknown }>('fast-jwt');
const jsonwebtoken = (
  await importDep<{ default: { verify(token: string, key: unknown, o: object): unknown } }>('jsonwebtoken')
).default;

const ISSUER_PATH = '/issuer';
const AUDIENCE = 'ZGW_APIs';
// Above the verifier's default cache size (10,000): cycling them, every verification is a first sight.
const FIRST_SIGHT_POOL = 12_000;

// --- IdP tokens (RS256), published through a real discovery document and JWKS on loopback.
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };
const jwksServer = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify(
      req.url?.endsWith('openid-configuration') ? { issuer, jwks_uri: `${issuer}/jwks` } : { keys: [jwk] },
    ),
  );
});
await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}${ISSUER_PATH}`;

const now = Math.floor(Date.now() / 1000);
const idpTokens = await Promise.all(
  Array.from({ length: group === 'hs256' ? 0 : group === 'repeated' ? 2 : FIRST_SIGHT_POOL }, async (_, i) => {
    const claims = {
      iss: issuer,
      sub: `bench-${i % 10}`,
      aud: AUDIENCE,
      client_id: `bench-${i % 10}`,
      rsin: '000000000',
      iat: now,
      nbf: now,
      exp: now + 3600,
      jti: crypto.randomUUID(),
      scope: 'zaken.lezen',
    };
    return signJwsAsync({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid }, claims, privateKey);
  }),
);
const idpParts = idpTokens.map((t) => ({
  input: Buffer.from(t.slice(0, t.lastIndexOf('.'))),
  signature: Buffer.from(t.slice(t.lastIndexOf('.') + 1), 'base64url'),
}));

// --- Self-signed tokens (HS256) of 10 clients, and of 100,000 clients (one token each).
/** `clientCount` registered clients; the tokens come from the first `activeCount` of them. */
function selfSignedSet(clientCount: number, tokenCount: number, activeCount = clientCount) {
  const clients = new Map<string, ClientRecord>();
  const secrets: string[] = [];
  for (let c = 0; c < clientCount; c++) {
    const secret = crypto.randomBytes(32).toString('base64url');
    secrets.push(secret);
    clients.set(`bench-${c}`, {
      clientId: `bench-${c}`,
      rsin: '000000000',
      enabled: true,
      selfSignedAllowed: true,
      secrets: [secret],
      scopes: ['zaken.lezen'],
    });
  }
  const tokens: string[] = [];
  const tokenSecrets: string[] = [];
  for (let i = 0; i < tokenCount; i++) {
    const c = i % activeCount;
    tokens.push(
      hs256(
        { iss: `bench-${c}`, iat: now, client_id: `bench-${c}`, user_id: `user-${i}`, user_representation: 'Bench' },
        secrets[c]!,
      ),
    );
    tokenSecrets.push(secrets[c]!);
  }
  return { clients, tokens, tokenSecrets };
}
// As many distinct tokens for 10 clients as for 100,000: only the registry size differs.
const HS_POOL = 100_000;
const few = group === 'hs256' ? selfSignedSet(10, HS_POOL) : selfSignedSet(10, 10);
const many = group === 'hs256' ? selfSignedSet(100_000, HS_POOL) : selfSignedSet(1, 1);
const manyTenActive = group === 'hs256' ? selfSignedSet(100_000, HS_POOL, 10) : selfSignedSet(1, 1);
const hsInputs = few.tokens.map((t) => t.slice(0, t.lastIndexOf('.')));

// --- The candidates.
const idpVerifier = createVerifier({ issuer, audience: AUDIENCE });
const repeatVerifier = createVerifier({ issuer, audience: AUDIENCE });
const selfSignedFew = createVerifier({ clients: (id) => few.clients.get(id) });
const selfSignedMany = createVerifier({ clients: (id) => many.clients.get(id) });
const selfSignedManyTenActive = createVerifier({ clients: (id) => manyTenActive.clients.get(id) });
if (idpTokens.length) {
  await idpVerifier.verify(idpTokens[0]!); // loads the JWKS once, as a running API would have
  await repeatVerifier.verify(idpTokens[0]!);
}

const joseJwks = jose.createLocalJWKSet({ keys: [jwk as JWK] });
const joseOptions = { issuer, audience: AUDIENCE, typ: 'at+jwt', algorithms: ['RS256'] };
const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
const fastRs = fastJwt.createVerifier({
  key: publicPem,
  algorithms: ['RS256'],
  allowedIss: issuer,
  allowedAud: AUDIENCE,
  cache: false,
});
const fastRsCached = fastJwt.createVerifier({
  key: publicPem,
  algorithms: ['RS256'],
  allowedIss: issuer,
  allowedAud: AUDIENCE,
  cache: true,
});
const fastHs = new Map(
  few.tokenSecrets
    .slice(0, 10)
    .map((s) => [s, fastJwt.createVerifier({ key: s, algorithms: ['HS256'], cache: false })]),
);
const joseHsKeys = new Map(few.tokenSecrets.slice(0, 10).map((s) => [s, new TextEncoder().encode(s)]));

type Op = (i: number) => unknown;
const all: Record<string, { op: Op; async?: boolean; group: typeof group }> = {
  'raw RS256 verify': {
    op: (i) =>
      crypto.verify(
        'sha256',
        idpParts[i % FIRST_SIGHT_POOL]!.input,
        publicKey,
        idpParts[i % FIRST_SIGHT_POOL]!.signature,
      ),
    group: 'rs256',
  },
  'zgw-auth verifier RS256, first sight': {
    op: (i) => idpVerifier.verify(idpTokens[i % FIRST_SIGHT_POOL]!),
    async: true,
    group: 'rs256',
  },
  'jose RS256': {
    op: (i) => jose.jwtVerify(idpTokens[i % FIRST_SIGHT_POOL]!, joseJwks, joseOptions),
    async: true,
    group: 'rs256',
  },
  'fast-jwt RS256': { op: (i) => fastRs(idpTokens[i % FIRST_SIGHT_POOL]!), group: 'rs256' },
  'jsonwebtoken RS256': {
    op: (i) =>
      jsonwebtoken.verify(idpTokens[i % FIRST_SIGHT_POOL]!, publicKey, {
        algorithms: ['RS256'],
        issuer,
        audience: AUDIENCE,
      }),
    group: 'rs256',
  },
  'raw HMAC-SHA-256': {
    op: (i) =>
      crypto
        .createHmac('sha256', few.tokenSecrets[i % HS_POOL]!)
        .update(hsInputs[i % HS_POOL]!)
        .digest(),
    group: 'hs256',
  },
  'zgw-auth verifier HS256, first sight, 10 clients': {
    op: (i) => selfSignedFew.verify(few.tokens[i % HS_POOL]!),
    async: true,
    group: 'hs256',
  },
  'zgw-auth verifier HS256, first sight, 100,000 clients, 10 active': {
    op: (i) => selfSignedManyTenActive.verify(manyTenActive.tokens[i % HS_POOL]!),
    async: true,
    group: 'hs256',
  },
  'zgw-auth verifier HS256, first sight, 100,000 clients, all active': {
    op: (i) => selfSignedMany.verify(many.tokens[i % HS_POOL]!),
    async: true,
    group: 'hs256',
  },
  'jose HS256': {
    op: (i) =>
      jose.jwtVerify(few.tokens[i % HS_POOL]!, joseHsKeys.get(few.tokenSecrets[i % HS_POOL]!)!, {
        algorithms: ['HS256'],
      }),
    async: true,
    group: 'hs256',
  },
  'fast-jwt HS256': {
    op: (i) => fastHs.get(few.tokenSecrets[i % HS_POOL]!)!(few.tokens[i % HS_POOL]!),
    group: 'hs256',
  },
  'jsonwebtoken HS256': {
    op: (i) => jsonwebtoken.verify(few.tokens[i % HS_POOL]!, few.tokenSecrets[i % HS_POOL]!, { algorithms: ['HS256'] }),
    group: 'hs256',
  },
  'zgw-auth verifier, same token repeated': {
    op: () => repeatVerifier.verify(idpTokens[1]!),
    async: true,
    group: 'repeated',
  },
  'fast-jwt RS256 with cache, same token repeated': { op: () => fastRsCached(idpTokens[1]!), group: 'repeated' },
};

const candidates = Object.fromEntries(Object.entries(all).filter(([, c]) => c.group === group));

let sink: unknown;
async function opsPerSecond(c: { op: Op; async?: boolean }, budgetMs: number, offset: number): Promise<number> {
  let done = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(budgetMs * 1e6);
  let t = start;
  while (t < end) {
    if (c.async) for (let k = 0; k < 200; k++) sink = await c.op(offset + done + k);
    else for (let k = 0; k < 200; k++) sink = c.op(offset + done + k);
    done += 200;
    t = process.hrtime.bigint();
  }
  return done / (Number(t - start) / 1e9);
}

const results: Record<string, number[]> = {};
const offsets: Record<string, number> = {};
for (const [name, c] of Object.entries(candidates)) {
  // Warm-up (JIT, caches) and a check that every candidate accepts its tokens.
  for (let i = 0; i < 500; i++) await c.op(i);
  results[name] = [];
  offsets[name] = 500;
}
for (let r = 0; r < rounds; r++) {
  for (const [name, c] of Object.entries(candidates)) {
    const opsS = await opsPerSecond(c, ms, offsets[name]!);
    results[name]!.push(opsS);
    offsets[name]! += Math.ceil(opsS * (ms / 1000)) + 200;
  }
}
void sink;
jwksServer.close();
console.log(JSON.stringify(results));
