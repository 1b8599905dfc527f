import type crypto from 'node:crypto';
import { checkKeyCertificate } from '../pki/client-certificate.js';
import type { TrustStore } from '../pki/trust-store.js';
import type { PublicJwk } from './model.js';

/** Why a registered key's certificate does not do, for the audit trail or the registering administrator. */
export type KeyCertificateRefusal = { reason: 'untrusted_chain' | 'certificate_mismatch'; detail: string } | undefined;

/**
 * The key's x5c certificate where it counts: with trust anchors configured a key's chain must
 * validate (a key without x5c is not judged by them); a client with an OIN accepts only a key whose
 * validated certificate carries it, so a key without one does not do.
 */
export function keyCertificateRefusal(
  jwk: PublicJwk,
  oin: string | null,
  trust: TrustStore | undefined,
  now: number,
): KeyCertificateRefusal {
  if (!jwk.x5c) {
    if (oin === null) return undefined;
    return {
      reason: 'certificate_mismatch',
      detail: 'a client with an OIN needs keys with an x5c certificate carrying it',
    };
  }
  if (!trust && oin === null) return undefined;
  const verdict = checkKeyCertificate(jwk.x5c, jwk as crypto.JsonWebKey, { trust, now, oin });
  return verdict.ok ? undefined : { reason: verdict.reason, detail: verdict.detail };
}
