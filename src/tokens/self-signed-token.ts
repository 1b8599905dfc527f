import crypto from 'node:crypto';
import { hs256 } from '@zgw-auth/verifier/internal';

export interface SelfSignedTokenInput {
  clientId: string;
  secret: string;
  userId?: string;
  userRepresentation?: string;
  rsin?: string;
  lifetimeSeconds?: number;
  now?: number;
}

/**
 * A ZGW self-signed token, as the seed's Postman snippet makes it by hand: HS256 with the raw
 * secret, iss and client_id set to the client id.
 */
export function createSelfSignedToken(input: SelfSignedTokenInput): string {
  const iat = Math.floor((input.now ?? Date.now()) / 1000);
  const claims: Record<string, unknown> = {
    iss: input.clientId,
    client_id: input.clientId,
    sub: input.clientId,
    jti: crypto.randomUUID(),
    iat,
    exp: iat + (input.lifetimeSeconds ?? 3600),
    user_id: input.userId ?? '',
    user_representation: input.userRepresentation ?? '',
  };
  if (input.rsin) claims.rsin = input.rsin;
  return hs256(claims, input.secret);
}
