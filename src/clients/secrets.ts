import crypto from 'node:crypto';
import { ValidationError } from '../errors.js';

export const SECRET_MAX_LENGTH = 512;
export const SECRET_MIN_LENGTH = 8;

/** 32 random bytes (256 bits) as base64url: 43 characters, safe in forms, Basic auth and JSON. */
export function generateSecret(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** Keyed fast hash: enough for random secrets, and /token stays fast (a slow password hash would only slow /token down). */
export function hashSecret(hashKey: Buffer, secret: string): Buffer {
  return crypto.createHmac('sha256', hashKey).update(secret).digest();
}

/** Constant-time compare of a presented secret's hash (computed once by the caller) with a stored one. */
export function hashMatches(presented: Buffer, storedHash: Buffer): boolean {
  return storedHash.length === presented.length && crypto.timingSafeEqual(storedHash, presented);
}

/** Generated quality: what a generated secret (43 characters, 256 bits) passes with room to spare. */
export const SECRET_MIN_STRONG_LENGTH = 32;
export const SECRET_MIN_STRONG_BITS = 128;
export const SECRET_STRENGTH_RULE = `a strong secret has at least ${SECRET_MIN_STRONG_LENGTH} characters and an estimated ${SECRET_MIN_STRONG_BITS} bits of entropy`;

/**
 * Checks an imported secret (migration from Keycloak or Open Zaak) and says why it is weak, if it is.
 * The strength estimate is estimateBits'.
 */
export function checkImportedSecret(secret: string): { warnings: string[]; weak: boolean } {
  if (secret.length < SECRET_MIN_LENGTH)
    throw new ValidationError(`a secret must have at least ${SECRET_MIN_LENGTH} characters`, 'secret');
  if (secret.length > SECRET_MAX_LENGTH)
    throw new ValidationError(`a secret must have at most ${SECRET_MAX_LENGTH} characters`, 'secret');
  if (/[\u0000-\u001f\u007f]/.test(secret))
    throw new ValidationError('a secret must not contain control characters', 'secret');
  const warnings: string[] = [];
  const bits = estimateBits(secret);
  if (secret.length < SECRET_MIN_STRONG_LENGTH)
    warnings.push(`weak secret: ${secret.length} characters (${SECRET_MIN_STRONG_LENGTH} or more recommended)`);
  if (bits < SECRET_MIN_STRONG_BITS)
    warnings.push(
      `weak secret: about ${Math.floor(bits)} bits of entropy (${SECRET_MIN_STRONG_BITS} or more recommended)`,
    );
  return { warnings, weak: warnings.length > 0 };
}

/**
 * A deliberately conservative strength estimate: each character not explained by what came before
 * counts log2 of the alphabet the secret draws from; a repeat of an earlier stretch (`Password1!`
 * twice) or a run of consecutive characters (`abcd`, `0123`, `9876`) counts as one such character.
 * Dictionary words are not recognised, so a secret of words can still pass: generated secrets are
 * the safe choice.
 */
export function estimateBits(secret: string): number {
  let alphabet = 0;
  if (/[a-z]/.test(secret)) alphabet += 26;
  if (/[A-Z]/.test(secret)) alphabet += 26;
  if (/[0-9]/.test(secret)) alphabet += 10;
  if (/[^a-zA-Z0-9]/.test(secret)) alphabet += 32;
  const perSymbol = Math.log2(alphabet);
  let symbols = 0;
  for (let i = 0; i < secret.length; symbols++) i += Math.max(1, repeatLength(secret, i), runLength(secret, i));
  return symbols * perSymbol;
}

/** Length of the longest stretch from `i` (3 or more) that already occurred before `i`. */
function repeatLength(s: string, i: number): number {
  let best = 0;
  for (let j = 0; j < i; j++) {
    let n = 0;
    while (i + n < s.length && s[j + n] === s[i + n]) n++;
    if (n > best) best = n;
  }
  return best >= 3 ? best : 0;
}

/** Length of the run from `i` (3 or more) whose code points step by the same +1 or -1. */
function runLength(s: string, i: number): number {
  const step = s.charCodeAt(i + 1) - s.charCodeAt(i);
  if (step !== 1 && step !== -1) return 0;
  let n = 2;
  while (i + n < s.length && s.charCodeAt(i + n) - s.charCodeAt(i + n - 1) === step) n++;
  return n >= 3 ? n : 0;
}

export function newSecretId(): string {
  return 'sec_' + crypto.randomBytes(9).toString('base64url');
}
