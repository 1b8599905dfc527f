// The ZGW decision in the verifier, in-process, run pinned to one core by the harness: token
// verification alone against verification followed by the decision (createAutorisaties over
// remoteApplicaties with a warm cache: the applicaties of the callers were read once from a stub
// Autorisaties API on loopback). Three token cases: the same tokens repeated, given as the
// Authorization header an API passes (the verifier's own cache answers: the decision's share is the
// largest an API meets); RS256 tokens at first sight; and, as a stress reading, the same token
// string objects repeated, whose hash the engine keeps, so that verification is at its cheapest.
// Prints one JSON object: { "<name>": [ops/s per round], ... }.
// Usage: node autorisaties-micro.js '{"rounds":5,"ms":500}'
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createAutorisaties,
  createVerifier,
  remoteApplicaties,
  VERTROUWELIJKHEIDAANDUIDINGEN,
} from '@zgw-auth/verifier';
import { signJws } from '@zgw-auth/verifier/internal';

const { rounds, ms } = JSON.parse(process.argv[2] ?? '{}') as { rounds: number; ms: number };

const ISSUER = 'https://idp.example';
const CLIENTS = 10;
// Above the verifier's token cache (10,000): every verification is a first sight.
const POOL = 12_000;
const ZAAKTYPEN = 40;
const zaaktype = (n: number) =>
  `https://catalogi.example/api/v1/zaaktypen/${crypto.createHash('sha256').update(String(n)).digest('hex')}`;

// Each client's applicatie as a municipality's case system has it: forty zaaktypen at various
// levels, some documents and besluiten, the catalogue.
const applicatie = (c: number) => ({
  url: `https://ac.example/autorisaties/api/v1/applicaties/${crypto.randomUUID()}`,
  clientIds: [`bench-${c}`],
  label: `Zaaksysteem ${c}`,
  heeftAlleAutorisaties: false,
  alleenIsGereedVoorPublicatie: false,
  autorisaties: [
    ...Array.from({ length: ZAAKTYPEN }, (_, n) => ({
      component: 'zrc',
      componentWeergave: 'Zaakregistratiecomponent',
      scopes: ['zaken.lezen', 'zaken.bijwerken', 'zaken.aanmaken'],
      zaaktype: zaaktype(n),
      maxVertrouwelijkheidaanduiding: VERTROUWELIJKHEIDAANDUIDINGEN[n % 8],
    })),
    ...Array.from({ length: 10 }, (_, n) => ({
      component: 'drc',
      componentWeergave: 'Documentregistratiecomponent',
      scopes: ['documenten.lezen'],
      informatieobjecttype: `https://catalogi.example/api/v1/informatieobjecttypen/${n}`,
      maxVertrouwelijkheidaanduiding: 'geheim',
    })),
    { component: 'ztc', componentWeergave: 'Zaaktypecatalogus', scopes: ['catalogi.lezen'] },
  ],
});
const applicaties = new Map(Array.from({ length: CLIENTS }, (_, c) => [`bench-${c}`, applicatie(c)]));
const ac = http.createServer((req, res) => {
  const id = new URL(req.url ?? '/', 'http://x').searchParams.get('clientId') ?? '';
  const found = applicaties.get(id);
  res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify(found ? [found] : { code: 'not_found' }));
});
await new Promise<void>((r) => ac.listen(0, '127.0.0.1', r));

const now = Math.floor(Date.now() / 1000);
const idp = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const token = (i: number) =>
  signJws(
    { alg: 'RS256', typ: 'at+jwt', kid: 'k' },
    {
      iss: ISSUER,
      aud: 'ZGW_APIs',
      client_id: `bench-${i % CLIENTS}`,
      iat: now,
      exp: now + 3600,
      jti: crypto.randomUUID(),
      scope: 'zaken.lezen',
    },
    idp.privateKey,
  );
// As an API gets them: the Authorization header, from which each verification takes the token anew.
const rawTokens = Array.from({ length: CLIENTS }, (_, i) => token(i));
const repeated = rawTokens.map((t) => `Bearer ${t}`);
const firstSight = Array.from({ length: POOL }, (_, i) => `Bearer ${token(i)}`);

const keys = { get: () => ({ key: idp.publicKey, alg: 'RS256' }) };
// One verifier per candidate: each keeps its own result cache, so that a first-sight token of one
// is not a cached one for the other (both cycle the same pool).
const newVerifier = () => createVerifier({ issuer: ISSUER, audience: 'ZGW_APIs', keys });
const [v0, v1, v2, v3, v4, v5] = [
  newVerifier(),
  newVerifier(),
  newVerifier(),
  newVerifier(),
  newVerifier(),
  newVerifier(),
];
const autorisaties = createAutorisaties({
  applicaties: remoteApplicaties({
    url: `http://127.0.0.1:${(ac.address() as AddressInfo).port}/autorisaties/api/v1`,
    credentials: { selfSigned: { clientId: 'zaken-api', secret: crypto.randomBytes(32).toString('base64url') } },
    // Long enough that no round reads the AC again: the warm cache is what is measured.
    maxAgeMs: 3_600_000,
  }),
});
// The object of each request: a zaak of one of the zaaktypen, at a level its autorisatie reaches.
const requests = Array.from({ length: ZAAKTYPEN }, (_, n) => ({
  component: 'zrc',
  scopes: ['zaken.lezen'],
  object: { zaaktype: zaaktype(n), vertrouwelijkheidaanduiding: VERTROUWELIJKHEIDAANDUIDINGEN[n % 8] },
}));

type Op = (i: number) => Promise<unknown>;
// Both sides as an API's async handler has them: it awaits the verification, and then the decision.
const verifyOnly = async (verifier: typeof v0, t: string) => {
  const principal = await verifier.verify(t);
  if (!principal.clientId) throw new Error('no client');
  return principal;
};
const verifyAndDecide = async (verifier: typeof v0, t: string, i: number) => {
  const principal = await verifier.verify(t);
  const d = await autorisaties.decide(principal, requests[i % ZAAKTYPEN]!);
  if (!d.allowed) throw new Error(`refused: ${d.reason}`);
  return d;
};
const candidates: Record<string, Op> = {
  'verify, same tokens repeated': (i) => verifyOnly(v0, repeated[i % CLIENTS]!),
  'verify + decide (warm cache), same tokens repeated': (i) => verifyAndDecide(v1, repeated[i % CLIENTS]!, i),
  'verify, same token strings repeated': (i) => verifyOnly(v2, rawTokens[i % CLIENTS]!),
  'verify + decide (warm cache), same token strings repeated': (i) => verifyAndDecide(v3, rawTokens[i % CLIENTS]!, i),
  'verify RS256, first sight': (i) => verifyOnly(v4, firstSight[i % POOL]!),
  'verify RS256 + decide (warm cache), first sight': (i) => verifyAndDecide(v5, firstSight[i % POOL]!, i),
};

let sink: unknown;
async function opsPerSecond(op: Op, budgetMs: number, offset: number): Promise<{ rate: number; done: number }> {
  let done = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(budgetMs * 1e6);
  let t = start;
  while (t < end) {
    for (let k = 0; k < 200; k++) sink = await op(offset + done + k);
    done += 200;
    t = process.hrtime.bigint();
  }
  return { rate: done / (Number(t - start) / 1e9), done };
}

// Warm-up: the JIT, the verifier's token cache for the repeated tokens, and the applicaties of every
// client read once from the AC (and a check that every candidate is allowed).
for (let c = 0; c < CLIENTS; c++) await verifyAndDecide(v1, repeated[c]!, c);
const results: Record<string, number[]> = {};
const offsets: Record<string, number> = {};
for (const [name, op] of Object.entries(candidates)) {
  for (let i = 0; i < 2000; i++) await op(i);
  results[name] = [];
  offsets[name] = 2000;
}
// Each round measures a pair in ten alternating slices of a tenth of the budget each: on a shared
// machine, load that comes and goes then weighs on both sides of a ratio alike.
const names = Object.keys(candidates);
for (let r = 0; r < rounds; r++) {
  for (let p = 0; p < names.length; p += 2) {
    const pair = [names[p]!, names[p + 1]!];
    const totals = pair.map(() => ({ done: 0, seconds: 0 }));
    for (let slice = 0; slice < 10; slice++)
      for (const [k, name] of pair.entries()) {
        const { rate, done } = await opsPerSecond(candidates[name]!, ms / 10, offsets[name]!);
        offsets[name]! += done;
        totals[k]!.done += done;
        totals[k]!.seconds += done / rate;
      }
    for (const [k, name] of pair.entries()) results[name]!.push(totals[k]!.done / totals[k]!.seconds);
  }
}
void sink;
ac.close();
console.log(JSON.stringify(results));
