import type crypto from 'node:crypto';
import { checkKeyCertificate } from '../pki/client-certificate.js';
import type { TrustStore } from '../pki/trust-store.js';
import type { PublicJwk } from './model.js';

/** Why a registered key's certificate does not do, for the audit trail or the registering administrator. */
export type KeyCertificateRefusal = { reason: 'untrusted_chain' | 'certificate_mismatch'; detail: string } | undefined;

/**
 * The key's x5c certificate where it counts: with trust anchors configured a key's chain must
 * validate; for a client with an OIN the certificate must carry it, which only a validated chain
 * shows. A key without x5c is not judged by either (the shared design: the OIN binds certificates,
 * and a bare key is the administrator's registration).
 */
export function keyCertificateRefusal(
  jwk: PublicJwk,
  oin: string | null,
  trust: TrustStore | undefined,
  now: number,
): KeyCertificateRefusal {
  if (!jwk.x5c) return undefined;
  if (!trust && oin === null) return undefined;
  const verdict = checkKeyCertificate(jwk.x5c, jwk as crypto.JsonWebKey, { trust, now, oin });
  return verdict.ok ? undefined : { reason: verdict.reason, detail: verdict.detail };
}
