import crypto from 'node:crypto';
import type { Confirmation } from '@zgw-auth/verifier';
import { signJwsAsync } from '@zgw-auth/verifier/internal';
import { type Client, isAllowedStaticClaim } from '../clients/model.js';
import { ZgwAuthError } from '../errors.js';
import type { KeyRing } from '../keys/key-ring.js';

export interface IssuerSettings {
  issuer: string;
  audience: string;
  tokenLifetime: number;
  maxTokenLifetime: number;
  /** Keycloak's paths are served: tokens carry Keycloak's `typ` claim, which its Node adapter requires. */
  keycloakPaths?: boolean;
}

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  scopes: string[];
  jti: string;
  alg: string;
}

/** 128 random bits: a token id nobody can guess or repeat by chance (a UUID has 122). */
const JTI_BYTES = 16;

/** Signs RFC 9068 JWT access tokens with the key ring's current key. */
export class TokenIssuer {
  constructor(
    private readonly keys: KeyRing,
    private readonly settings: IssuerSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** `binding`: the key or certificate the token is bound to, as its `cnf` claim (RFC 7800, RFC 9449 §6). */
  async issue(client: Client, scopes: string[], binding?: Confirmation): Promise<IssuedToken> {
    const key = this.keys.current();
    if (!key) throw new ZgwAuthError('no_signing_key', 'no signing key is active');
    const lifetime = Math.min(client.tokenLifetime ?? this.settings.tokenLifetime, this.settings.maxTokenLifetime);
    const iat = Math.floor(this.now() / 1000);
    const jti = crypto.randomBytes(JTI_BYTES).toString('base64url');
    const claims: Record<string, unknown> = {};
    // Validated on every write; filtered again so that a row from an older version cannot carry rights.
    for (const name in client.staticClaims) if (isAllowedStaticClaim(name)) claims[name] = client.staticClaims[name];
    Object.assign(claims, {
      iss: this.settings.issuer,
      sub: client.clientId,
      aud: this.settings.audience,
      client_id: client.clientId,
      // The party the token was issued to (OpenID Connect, the NL GOV OAuth profile); Keycloak's clients read it.
      azp: client.clientId,
      rsin: client.rsin,
      iat,
      nbf: iat,
      exp: iat + lifetime,
      jti,
      client_registration: registrationOf(client),
    });
    if (scopes.length) claims.scope = scopes.join(' ');
    if (binding) claims.cnf = { ...binding };
    // keycloak-connect refuses an access token without Keycloak's `"typ": "Bearer"` in its body; the
    // header's `typ` (at+jwt) is what zgw-auth's verifier checks, and it reads no `typ` claim.
    if (this.settings.keycloakPaths) claims.typ = 'Bearer';
    // The key's header is encoded once; the signature is computed on the thread pool (a second core for RSA).
    const accessToken = await signJwsAsync({ alg: key.alg, encodedHeader: key.encodedHeader }, claims, key.privateKey);
    return { accessToken, expiresIn: lifetime, scopes, jti, alg: key.alg };
  }
}

/**
 * Which registration of a client id a token belongs to: its creation time, unique per id because
 * an id is registered once at a time. A client deleted and created again has another, so the old
 * registration's tokens are refused (the verifier compares it with ClientRecord.registration).
 */
export function registrationOf(client: Pick<Client, 'createdAt'>): string {
  return client.createdAt.toString(36);
}
