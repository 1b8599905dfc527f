// What the DPoP benchmarks verify: client proof keys and ES256 access tokens, bearer or bound.
import crypto from 'node:crypto';
import { signJws } from '@zgw-auth/verifier/internal';

export const DPOP_ISSUER = 'https://idp.example';
export const DPOP_URL = 'https://zaken.example/zaken/api/v1/zaken';

export interface ProofKey {
  privateKey: crypto.KeyObject;
  jwk: crypto.JsonWebKey;
  /** The key's RFC 7638 thumbprint, as a bound token's cnf.jkt names it. */
  jkt: string;
}

/** `count` P-256 proof keys: many clients, each with its own, as an API sees them. */
export function proofKeys(count: number): ProofKey[] {
  return Array.from({ length: count }, () => {
    const pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = pair.publicKey.export({ format: 'jwk' });
    const jkt = crypto
      .createHash('sha256')
      .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
      .digest('base64url');
    return { privateKey: pair.privateKey, jwk, jkt };
  });
}

/** An ES256 access token of client `bench-<i % 10>`, bound to `jkt` when given, with a jti of its own. */
export function accessToken(idpKey: crypto.KeyObject, now: number, i: number, jkt?: string): string {
  return signJws(
    { alg: 'ES256', typ: 'at+jwt', kid: 'k' },
    {
      iss: DPOP_ISSUER,
      aud: 'ZGW_APIs',
      client_id: `bench-${i % 10}`,
      iat: now,
      exp: now + 3600,
      jti: crypto.randomUUID(),
      scope: 'zaken.lezen',
      ...(jkt ? { cnf: { jkt } } : {}),
    },
    idpKey,
  );
}
