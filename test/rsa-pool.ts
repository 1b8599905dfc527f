import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * RSA-2048 signing key pairs made earlier, for test servers: one takes 0.05-0.5 s of CPU to
 * generate, at random, for each server and rotation. The pairs are kept in a file in the temporary
 * folder (like the PostgreSQL template), shared by test files and runs. A test process and the
 * `zgw-auth serve` processes it starts (through the preload pooled-keys-preload.ts) hand out each
 * pair at most once between them: each claims a pair by creating its index's file in a folder of
 * the test process, so that no two servers or keys of one test share a pair. Only node builtins
 * here: the preload loads this into every process it goes into.
 */

/** RSA pairs kept between test processes and runs: at most this many. */
export const RSA_POOL_SIZE = 100;
const POOL_FILE = path.join(os.tmpdir(), 'zgw-auth-test-rsa-2048.json');
/** The claims folder of the test process, in the environment of the processes it starts. */
export const CLAIMS_ENV = 'ZGW_AUTH_TEST_RSA_CLAIMS';

type Kept = { privateKey: string; publicKey: string };
let pool: Kept[] | undefined;
let claims: string | undefined = process.env[CLAIMS_ENV] || undefined;
/** Indices below this one were claimed by this process or found claimed. */
let next = 0;

function readPool(): Kept[] {
  if (pool) return pool;
  try {
    const read: unknown = JSON.parse(fs.readFileSync(POOL_FILE, 'utf8'));
    pool = Array.isArray(read) ? (read as Kept[]) : [];
  } catch {
    pool = [];
  }
  return pool;
}

/** The test process's claims folder, made on first use and removed when it exits. */
function claimsFolder(): string {
  if (claims) return claims;
  const made = fs.mkdtempSync(path.join(os.tmpdir(), 'zgw-auth-test-rsa-claims-'));
  process.once('exit', () => fs.rmSync(made, { recursive: true, force: true }));
  return (claims = made);
}

/** Whether index `i` was free and is now this process's. */
function claim(i: number): boolean {
  try {
    fs.closeSync(fs.openSync(path.join(claimsFolder(), String(i)), 'wx'));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** The public halves of the pool's pairs as the file holds them now, for tests of the pool. */
export function pooledPublicKeys(): crypto.KeyObject[] {
  try {
    const read: unknown = JSON.parse(fs.readFileSync(POOL_FILE, 'utf8'));
    return Array.isArray(read) ? (read as Kept[]).map((k) => crypto.createPublicKey(k.publicKey)) : [];
  } catch {
    return [];
  }
}

/** A kept pair nobody of this test has used yet; undefined when every kept pair is taken. */
export function pooledPair(): crypto.KeyPairKeyObjectResult | undefined {
  const kept = readPool();
  while (next < kept.length) {
    const i = next++;
    if (claim(i))
      return {
        privateKey: crypto.createPrivateKey(kept[i]!.privateKey),
        publicKey: crypto.createPublicKey(kept[i]!.publicKey),
      };
  }
  return undefined;
}

/**
 * Keeps a freshly generated pair for later test processes while the file has room; claimed here
 * (unless `claimed` is false: a pair for the processes this one starts), so that no process
 * started by this one takes it too.
 */
export function keepPair(pair: crypto.KeyPairKeyObjectResult, { claimed = true } = {}): void {
  const kept = readPool();
  if (kept.length >= RSA_POOL_SIZE) return;
  kept.push({
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  });
  if (claimed) {
    claim(kept.length - 1);
    next = Math.max(next, kept.length);
  }
  // Whole or not at all: written aside, then renamed over the file (another process may do the same).
  const aside = `${POOL_FILE}.${process.pid}`;
  try {
    fs.writeFileSync(aside, JSON.stringify(kept), { mode: 0o600 });
    fs.renameSync(aside, POOL_FILE);
  } catch {
    fs.rmSync(aside, { force: true });
  }
}

/**
 * The environment that makes a `zgw-auth serve` (or other CLI) process started by a test take its
 * RSA-2048 pairs from the pool, pairs nobody else of this test uses: the preload in NODE_OPTIONS,
 * and this process's claims folder. Past the pool's pairs, the process generates its own.
 */
export function pooledKeysEnv(): Record<string, string> {
  const preload = new URL('./pooled-keys-preload.js', import.meta.url).href;
  return {
    NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${preload}`].filter(Boolean).join(' '),
    [CLAIMS_ENV]: claimsFolder(),
  };
}
