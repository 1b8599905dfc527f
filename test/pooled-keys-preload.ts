/**
 * Preloaded (`node --import`) into the `zgw-auth serve` processes that tests start
 * (rsa-pool.ts, pooledKeysEnv): an RSA-2048 pair that zgw-auth generates is taken from the test's
 * pool instead, each pair once, so that a start does not spend 0.05-0.5 s of CPU on it. zgw-auth
 * itself is unchanged: its call to crypto.generateKeyPairSync is what this replaces, in this
 * process only. Every other key is generated as usual, and so is a pair past the pool's (then
 * kept in the pool for later runs while it has room).
 */
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { keepPair, pooledPair } from './rsa-pool.js';

const generate = crypto.generateKeyPairSync as (...args: unknown[]) => unknown;

/** Only the call that makes a signing key (keys/jwk.ts): KeyObjects of a 2048-bit modulus, no encodings. */
function signingKeyCall(type: unknown, options: unknown): boolean {
  if (type !== 'rsa' || typeof options !== 'object' || options === null) return false;
  return Object.keys(options).length === 1 && (options as { modulusLength?: unknown }).modulusLength === 2048;
}

crypto.generateKeyPairSync = function (this: unknown, ...args: unknown[]) {
  if (!signingKeyCall(args[0], args[1])) return generate.apply(this, args);
  const kept = pooledPair();
  if (kept) return kept;
  const made = generate.apply(this, args) as crypto.KeyPairKeyObjectResult;
  keepPair(made);
  return made;
} as typeof crypto.generateKeyPairSync;
syncBuiltinESMExports();
