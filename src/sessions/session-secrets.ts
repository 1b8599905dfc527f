import crypto from 'node:crypto';

/**
 * The secrets of a console session, all from its id: the id (the cookie) is the only one the
 * browser holds, and the store keeps none of them in the clear. The store has the id's SHA-256 to
 * find the session by; the admin token and the notice are sealed under a key derived from the id,
 * so that a copy of the database (or of Redis, or a backup) opens no session; the form token is
 * derived from the id, so it is not kept anywhere.
 */

/** Longer than any id this server makes (43 characters): a longer cookie is no session's. */
export const MAX_SESSION_ID_LENGTH = 100;

/** A new session id: 32 random bytes. */
export function newSessionId(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** What the store finds a session by. Hashing also keeps a lookup's timing from saying anything about stored ids. */
export function sessionIdHash(id: string): string {
  return crypto.createHash('sha256').update(id).digest('base64url');
}

function derive(id: string, purpose: string): Buffer {
  return Buffer.from(
    crypto.hkdfSync('sha256', Buffer.from(id, 'utf8'), Buffer.alloc(0), `zgw-auth console ${purpose}`, 32),
  );
}

/** The session's form (CSRF) token: derived from the id, never stored. */
export function csrfTokenOf(id: string): string {
  return derive(id, 'csrf').toString('base64url');
}

/** AES-256-GCM under the id's key, bound to the session and the purpose: iv.tag.ciphertext, base64url. */
export function sealForSession(id: string, purpose: 'token' | 'flash', plaintext: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', derive(id, purpose), iv);
  cipher.setAAD(Buffer.from(`${sessionIdHash(id)}:${purpose}`));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), ct].map((b) => b.toString('base64url')).join('.');
}

/** The sealed text, or undefined when it was not sealed under this id for this purpose. */
export function openForSession(id: string, purpose: 'token' | 'flash', sealed: string): string | undefined {
  const [iv, tag, ct] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
  if (!iv || !tag || !ct || iv.length !== 12 || tag.length !== 16) return undefined;
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', derive(id, purpose), iv);
    decipher.setAAD(Buffer.from(`${sessionIdHash(id)}:${purpose}`));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** Whether a form's token is the session's, compared in constant time. */
export function csrfTokenMatches(expected: string, sent: string | undefined): boolean {
  if (typeof sent !== 'string') return false;
  const a = crypto.createHash('sha256').update(expected).digest();
  const b = crypto.createHash('sha256').update(sent).digest();
  return crypto.timingSafeEqual(a, b);
}
