// Instructions per operation of the verifier's DPoP path, counted by valgrind (callgrind), which
// a loaded machine does not disturb the way it disturbs a clock. Each case is run twice under
// callgrind, with the same set-up and warm-up and `few` or `many` operations after them; the
// difference over `many - few` is the cost of one operation, start-up and JIT warm-up excluded.
//
//   node dist/bench/dpop-instructions.js [--few 500] [--many 2500] [case ...]
//
// Cases: `bearer` (an ES256 token at first sight), `dpop` (a DPoP-bound ES256 token with its ES256
// proof, first sight), `check` (DpopProofChecker.check alone, with ath and jkt), `verify` (one
// ES256 crypto.verify of a proof, as the checker makes it). O1 = bearer − verify and
// O2 = dpop − bearer − verify: see docs/benchmarks.md ("DPoP, fourth round", "fifth round"). Needs valgrind.
// `--keep <dir>` keeps the callgrind files; `--write-fixtures <file> <n>` only writes fixtures.
//
// Run with `--run <case> <n>` it is the measured process itself: it makes `MAX` tokens and proofs
// whatever `n`, warms up on the first `WARM_UP`, then runs `n` more.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { accessTokenHash, createVerifier } from '@zgw-auth/verifier';
import { signJws } from '@zgw-auth/verifier/internal';
import { accessToken, DPOP_ISSUER, DPOP_URL, proofKeys } from './dpop-fixtures.js';

const CASES = ['bearer', 'dpop', 'check', 'verify'] as const;
type Case = (typeof CASES)[number];
const WARM_UP = 3000;
/**
 * Operations after the full collection that ends the warm-up, before the measured ones: enough for
 * the code that collection deoptimised to be compiled again, and for the verifier's token cache to
 * have moved its first generation out (after 4,400 to 5,000 first sights), whose first time
 * deoptimises the verification once more.
 */
const WARM_UP_AGAIN = 2500;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

const ISSUER = DPOP_ISSUER;
const URL_ = DPOP_URL;
const CLIENTS = 32;

interface Fixtures {
  idp: crypto.JsonWebKey;
  clients: Array<{ jwk: crypto.JsonWebKey; jkt: string }>;
  bearerTokens: string[];
  boundTokens: string[];
  proofs: string[];
}

/** Tokens and proofs for `max` operations, made outside valgrind (signing them there would take minutes). */
function makeFixtures(max: number): Fixtures {
  const now = Math.floor(Date.now() / 1000);
  const idp = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const clients = proofKeys(CLIENTS);
  // One token per operation: every verification is a first sight (the verifier's cache holds 10,000).
  const token = (i: number, bound: boolean) =>
    accessToken(idp.privateKey, now, i, bound ? clients[i % CLIENTS]!.jkt : undefined);
  const bearerTokens = Array.from({ length: max }, (_, i) => token(i, false));
  const boundTokens = Array.from({ length: max }, (_, i) => token(i, true));
  const proofs = boundTokens.map((t, i) =>
    signJws(
      { alg: 'ES256', typ: 'dpop+jwt', jwk: clients[i % CLIENTS]!.jwk } as { alg: string },
      { jti: crypto.randomBytes(16).toString('base64url'), htm: 'GET', htu: URL_, iat: now, ath: accessTokenHash(t) },
      clients[i % CLIENTS]!.privateKey,
    ),
  );
  return {
    idp: idp.publicKey.export({ format: 'jwk' }),
    clients: clients.map(({ jwk, jkt }) => ({ jwk, jkt })),
    bearerTokens,
    boundTokens,
    proofs,
  };
}

async function measured(which: Case, n: number, fixtures: Fixtures): Promise<void> {
  const { clients, proofs } = fixtures;
  const tokens = which === 'bearer' ? fixtures.bearerTokens : fixtures.boundTokens;
  const idp = { publicKey: crypto.createPublicKey({ key: fixtures.idp, format: 'jwk' }) };
  const keys = { get: () => ({ key: idp.publicKey, alg: 'ES256' }) };
  const verifier = createVerifier({ issuer: ISSUER, audience: 'ZGW_APIs', keys, dpop: { window: 600 } });
  const checker = verifier.sender.dpop;
  const signingInputs = proofs.map((p) => p.slice(0, p.lastIndexOf('.')));
  const signatures = proofs.map((p) => Buffer.from(p.slice(p.lastIndexOf('.') + 1), 'base64url'));
  const proofKeys = clients.map((c) => ({
    key: crypto.createPublicKey({ key: c.jwk, format: 'jwk' }),
    dsaEncoding: 'ieee-p1363' as const,
  }));

  const ops: Record<Case, (i: number) => unknown> = {
    bearer: (i) => verifier.verifyRequest({ authorization: `Bearer ${tokens[i]}`, method: 'GET', url: URL_ }),
    dpop: (i) =>
      verifier.verifyRequest({ authorization: `DPoP ${tokens[i]}`, dpop: proofs[i]!, method: 'GET', url: URL_ }),
    check: (i) =>
      checker.check({
        proof: proofs[i]!,
        method: 'GET',
        urls: [URL_],
        accessToken: tokens[i]!,
        jkt: clients[i % CLIENTS]!.jkt,
      }),
    verify: (i) => {
      if (!crypto.verify('sha256', Buffer.from(signingInputs[i]!, 'latin1'), proofKeys[i % CLIENTS]!, signatures[i]!))
        throw new Error('a proof did not verify');
    },
  };
  const op = ops[which];
  let sink: unknown;
  // The fixtures' JSON and the set-up's garbage collected now, in both runs alike, not by a
  // collection that falls in one run's measured operations and not in the other's.
  const gc = (globalThis as { gc?: (options?: { type: 'minor' }) => void }).gc;
  gc?.();
  for (let i = 0; i < WARM_UP; i++) sink = await op(i);
  gc?.();
  // A full collection sets allocation sites to old space and deoptimises the code that allocated
  // there: it is compiled again in these operations, not in the measured ones (a server compiles
  // it once, ever). See WARM_UP_AGAIN.
  for (let i = WARM_UP; i < WARM_UP + WARM_UP_AGAIN; i++) sink = await op(i);
  for (let i = WARM_UP + WARM_UP_AGAIN; i < WARM_UP + WARM_UP_AGAIN + n; i++) sink = await op(i);
  // What the operations left alive is copied as a server's young generation copies it: once when
  // it first survives, once more when it is promoted. The young generation is large enough (see
  // GC_FLAGS) that no scavenge falls among the operations, so these two are all there is,
  // and each operation is charged for what it keeps, in proportion, in both runs alike.
  gc?.({ type: 'minor' });
  gc?.({ type: 'minor' });
  void sink;
}

/**
 * Collections decided by what was counted, not by the clock. Left to itself V8 shrinks the young
 * generation after a full collection when it measured fewer than 1,000 bytes allocated per
 * millisecond of wall time, which under valgrind (50 times slower) depends on the machine's load:
 * a run whose young generation shrank to 1 MB made a scavenge every 170 DPoP requests (14 k
 * instructions a request), one whose did not made none. 64 MB holds the warm-up and the measured
 * operations of every case without a scavenge. The memory reducer, which starts a full collection
 * when allocation per millisecond looks idle, did so under valgrind in some runs and not in others
 * (30 to 60 k instructions a request either way).
 */
const GC_FLAGS = ['--min-semi-space-size=64', '--max-semi-space-size=64', '--no-memory-reducer'];

/** Instructions callgrind counted for one measured run (every thread). */
async function instructions(which: Case, n: number, fixtures: string): Promise<number> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dpop-instructions-'));
  try {
    const file = path.join(out, 'callgrind.out');
    await promisify(execFile)(
      'valgrind',
      [
        '--tool=callgrind',
        '--smc-check=all-non-file',
        `--callgrind-out-file=${file}`,
        process.execPath,
        // No compiler or GC threads, and a fixed hash seed: V8 picks a random one at start-up, and
        // the search for it costs from 5 to 15 million instructions, which would show up per operation.
        '--single-threaded',
        '--hash-seed=1337',
        '--random-seed=1',
        '--expose-gc',
        ...GC_FLAGS,
        fileURLToPath(import.meta.url),
        '--run',
        which,
        String(n),
        fixtures,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    const summary = /^summary: (\d+)/m.exec(fs.readFileSync(file, 'utf8'));
    if (!summary) throw new Error('no summary line in the callgrind output');
    const keep = process.argv.indexOf('--keep');
    if (keep >= 0) fs.copyFileSync(file, path.join(process.argv[keep + 1]!, `${which}.${n}.callgrind`));
    return Number(summary[1]);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

const run = process.argv.indexOf('--run');
const write = process.argv.indexOf('--write-fixtures');
if (write >= 0) {
  fs.writeFileSync(process.argv[write + 1]!, JSON.stringify(makeFixtures(Number(process.argv[write + 2]))));
} else if (run >= 0) {
  const fixtures = JSON.parse(fs.readFileSync(process.argv[run + 3]!, 'utf8')) as Fixtures;
  await measured(process.argv[run + 1] as Case, Number(process.argv[run + 2]), fixtures);
} else {
  const few = option('--few', 300);
  const many = option('--many', 1300);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dpop-fixtures-'));
  const fixtures = path.join(dir, 'fixtures.json');
  fs.writeFileSync(fixtures, JSON.stringify(makeFixtures(WARM_UP + WARM_UP_AGAIN + many)));
  const chosen = CASES.filter((c) => process.argv.includes(c));
  const result: Record<string, number> = {};
  for (const which of chosen.length ? chosen : CASES) {
    // The two runs side by side: valgrind runs a process on one core.
    const [a, b] = await Promise.all([instructions(which, few, fixtures), instructions(which, many, fixtures)]);
    result[which] = Math.round((b - a) / (many - few));
    console.error(`${which}: ${result[which]} instructions per operation`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(result));
}
