// Sender-constrained tokens in the verifier, in-process, run pinned to one core by the harness:
// an ES256 access token verified at first sight as a bearer token, and the same with a DPoP proof
// (one more ES256 verification, a thumbprint, a replay-cache entry); then the replay cache's heap
// (and array buffers) under a flood of unique jti. Prints one JSON object: { "<name>": [values per round], ... }.
// Usage: node dpop-micro.js '{"rounds":5,"ms":500}'
import crypto from 'node:crypto';
import { accessTokenHash, createVerifier, MemoryReplayCache, ReplayCacheFull } from '@zgw-auth/verifier';
import { signJws } from '@zgw-auth/verifier/internal';
import { accessToken, DPOP_ISSUER, DPOP_URL, proofKeys } from './dpop-fixtures.js';

const { rounds, ms } = JSON.parse(process.argv[2] ?? '{}') as { rounds: number; ms: number };

const ISSUER = DPOP_ISSUER;
const URL_ = DPOP_URL;
// Above the verifier's token cache (10,000): every verification is a first sight.
const POOL = 12_000;
const now = Math.floor(Date.now() / 1000);
const idp = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
// Many clients, each with its own DPoP key, as an API sees them: the replay cache bounds the proofs
// one key may have live (an eighth of it), which one key at 20,000 a second would exceed.
const CLIENTS = 32;
const clients = proofKeys(CLIENTS);
const jkt = clients[0]!.jkt;

const token = (i: number, bound: boolean) =>
  accessToken(idp.privateKey, now, i, bound ? clients[i % CLIENTS]!.jkt : undefined);
const bearerTokens = Array.from({ length: POOL }, (_, i) => token(i, false));
const boundTokens = Array.from({ length: POOL }, (_, i) => token(i, true));
// One proof per request: enough for every round at up to 20,000 verifications a second.
const PROOFS = Math.ceil(((rounds * ms) / 1000) * 20_000) + 1000;
const proofs = Array.from({ length: PROOFS }, (_, i) =>
  signJws(
    { alg: 'ES256', typ: 'dpop+jwt', jwk: clients[(i % POOL) % CLIENTS]!.jwk } as { alg: string },
    {
      jti: crypto.randomBytes(16).toString('base64url'),
      htm: 'GET',
      htu: URL_,
      iat: now,
      ath: accessTokenHash(boundTokens[i % POOL]!),
    },
    clients[(i % POOL) % CLIENTS]!.privateKey,
  ),
);

const keys = { get: () => ({ key: idp.publicKey, alg: 'ES256' }) };
// The window covers the time the proofs above took to make on a slow machine.
const verifier = createVerifier({ issuer: ISSUER, audience: 'ZGW_APIs', keys, dpop: { window: 600 } });

type Op = (i: number) => Promise<unknown>;
const candidates: Record<string, Op> = {
  'ES256 bearer token, first sight': (i) =>
    verifier.verifyRequest({ authorization: `Bearer ${bearerTokens[i % POOL]}`, method: 'GET', url: URL_ }),
  'ES256 DPoP-bound token with an ES256 proof, first sight': (i) => {
    if (i >= PROOFS) throw new Error('out of proofs: raise PROOFS');
    return verifier.verifyRequest({
      authorization: `DPoP ${boundTokens[i % POOL]}`,
      dpop: proofs[i]!,
      method: 'GET',
      url: URL_,
    });
  },
};

let sink: unknown;
/** Operations a second over `budgetMs`, and how many were made (each used one proof from `offset` on). */
async function opsPerSecond(op: Op, budgetMs: number, offset: number): Promise<{ rate: number; done: number }> {
  let done = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(budgetMs * 1e6);
  let t = start;
  while (t < end) {
    for (let k = 0; k < 100; k++) sink = await op(offset + done + k);
    done += 100;
    t = process.hrtime.bigint();
  }
  return { rate: done / (Number(t - start) / 1e9), done };
}

const results: Record<string, number[]> = {};
const offsets: Record<string, number> = {};
for (const [name, op] of Object.entries(candidates)) {
  for (let i = 0; i < 300; i++) await op(i); // warm-up, and a check that each is accepted
  results[name] = [];
  offsets[name] = 300;
}
for (let r = 0; r < rounds; r++) {
  for (const [name, op] of Object.entries(candidates)) {
    const { rate, done } = await opsPerSecond(op, ms, offsets[name]!);
    results[name]!.push(rate);
    // The proofs used: a round that overran its budget (a busy machine) used more than rate × budget.
    offsets[name]! += done;
  }
}
void sink;

// The replay cache under a flood of unique jti: twice its capacity offered, each a live proof.
const CAPACITY = 100_000;
const gc = (globalThis as { gc?: () => void }).gc;
/** What a process holds for a cache: its heap and its array buffers (where a typed array's bytes live). */
const held = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
/**
 * A full collection, a turn of the event loop, and another: the array buffers of a cache found dead
 * are freed after the collection that finds them, so that one reading alone may still count them.
 */
async function settle(): Promise<void> {
  gc?.();
  await new Promise((resolve) => setImmediate(resolve));
  gc?.();
}
/** Bytes a full cache holds; in a function of its own, so that no stack slot keeps the last one alive. */
async function floodedCacheBytes(): Promise<number> {
  await settle();
  const before = held();
  const cache = new MemoryReplayCache(CAPACITY);
  let refused = 0;
  const expiresAt = Date.now() + 65_000;
  for (let i = 0; i < 2 * CAPACITY; i++) {
    try {
      cache.useOnce('dpop', `${jkt}.${crypto.randomBytes(16).toString('base64url')}`, expiresAt);
    } catch (err) {
      if (!(err instanceof ReplayCacheFull)) throw err;
      refused++;
    }
  }
  await settle();
  const bytes = held() - before;
  if (cache.size !== CAPACITY || refused !== CAPACITY) throw new Error('the replay cache grew past its bound');
  return bytes;
}
for (let r = 0; r < rounds; r++) {
  const bytes = await floodedCacheBytes();
  (results['replay cache: heap bytes per remembered proof'] ??= []).push(bytes / CAPACITY);
  (results['replay cache: heap MB, full (100,000 proofs) after 200,000 offered'] ??= []).push(bytes / 1e6);
}
console.log(JSON.stringify(results));
