import crypto from 'node:crypto';

/**
 * SHA-256 and comparisons on the per-request paths (a DPoP proof's `ath`, replay-cache keys, the
 * proof's key against the token's `cnf.jkt`). Node's one-shot `crypto.hash` (Node 20.12 and later)
 * costs about a third of a `createHash` object and leaves no native handle for the garbage
 * collector; on older Node 20 releases the same digest is taken the long way.
 */
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** SHA-256 of the UTF-8 of `text` (or of the bytes), base64url (43 characters). */
export function sha256Base64url(text: string | Uint8Array): string {
  return oneShot ? oneShot('sha256', text, 'base64url') : crypto.createHash('sha256').update(text).digest('base64url');
}

/** SHA-256 of the UTF-8 of `text` as a 32-character latin1 string: a compact map key, never shown. */
export function sha256Latin1(text: string): string {
  return oneShot ? oneShot('sha256', text, 'binary') : crypto.createHash('sha256').update(text).digest('binary');
}

/**
 * Whether two strings are equal, in a time that depends on their length only, not on where they
 * differ; without the two buffers a `timingSafeEqual` needs. For values the caller may see anyway
 * (thumbprints, `ath`); secrets (MACs) go through `crypto.timingSafeEqual`.
 */
export function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}
