import crypto from 'node:crypto';
import type { SigningAlg } from '../config.js';

export type PublicJwk = crypto.JsonWebKey & { kid: string; alg: string; use: 'sig' };

const THUMBPRINT_MEMBERS: Record<string, string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

/** RFC 7638 JWK thumbprint (SHA-256): the required members, sorted, as compact JSON. */
export function jwkThumbprint(jwk: crypto.JsonWebKey): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty as string];
  if (!members) throw new Error(`no thumbprint members for kty ${String(jwk.kty)}`);
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

export function generateKeyPair(alg: SigningAlg): crypto.KeyPairKeyObjectResult {
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'ES256':
      return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'EdDSA':
      return crypto.generateKeyPairSync('ed25519');
  }
}

/** Only public members leave this function: the JWKS is built from its output. */
export function publicJwk(publicKey: crypto.KeyObject, alg: string): PublicJwk {
  const full = publicKey.export({ format: 'jwk' });
  const pub: crypto.JsonWebKey = {};
  for (const m of THUMBPRINT_MEMBERS[full.kty as string] ?? []) pub[m] = full[m];
  return { ...pub, kid: jwkThumbprint(pub), alg, use: 'sig' };
}
