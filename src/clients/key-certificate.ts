import type crypto from 'node:crypto';
import { checkKeyCertificate } from '../pki/client-certificate.js';
import type { TrustStore } from '../pki/trust-store.js';
import type { Client, PublicJwk } from './model.js';

/** Why a registered key's certificate does not do, for the audit trail or the registering administrator. */
export type KeyCertificateRefusal = { reason: 'untrusted_chain' | 'certificate_mismatch'; detail: string } | undefined;

export const OIN_NEEDS_CERTIFICATE =
  'a client with an OIN is accepted only with a key whose x5c certificate chain validates and carries the OIN; this key has no x5c';

/**
 * The key's x5c certificate where it counts, at registration and at every use alike:
 *
 * - a client with an OIN: every key needs an x5c chain that validates to the trust anchors and
 *   whose certificate carries the OIN. A bare key proves no OIN, so it is refused.
 * - otherwise, with trust anchors configured, a key's x5c chain must validate, except for a client
 *   of self_signed_tls_client_auth: its certificates are registered as they are, self-signed ones
 *   included (RFC 8705 §2.2), and chain to nothing.
 */
export function keyCertificateRefusal(
  jwk: PublicJwk,
  client: Pick<Client, 'oin' | 'authMethods'>,
  trust: TrustStore | undefined,
  now: number,
): KeyCertificateRefusal {
  const oin = client.oin;
  if (!jwk.x5c) return oin === null ? undefined : { reason: 'certificate_mismatch', detail: OIN_NEEDS_CERTIFICATE };
  const chains = oin !== null || (trust && !client.authMethods.includes('self_signed_tls_client_auth'));
  if (!chains) return undefined;
  const verdict = checkKeyCertificate(jwk.x5c, jwk as crypto.JsonWebKey, { trust, now, oin });
  return verdict.ok ? undefined : { reason: verdict.reason, detail: verdict.detail };
}
