import {
  type ClientRecord,
  type ClientResolver,
  createVerifier,
  type Verifier,
  type VerifyOptions,
} from '@zgw-auth/verifier';
import { CLIENT_CACHE_MS, type ClientAuthenticator, type SigningSecrets } from '../clients/client-authenticator.js';
import type { ChangeFeed } from '../changes/change-feed.js';
import type { Config } from '../config.js';
import type { KeyRing } from '../keys/key-ring.js';
import { registrationOf } from './token-issuer.js';
import type { Revocations } from './revocations.js';

/**
 * For the server's own uses of a token that are not a protected resource request (introspection,
 * revocation, inspection): a sender-constrained token is verified as any other, its binding is
 * passed on (cnf) rather than checked, since no proof comes with these requests.
 */
export const BOUND_TOKENS_TOO: VerifyOptions = Object.freeze({ acceptBoundTokens: true });

/** Client lookup for the verifier straight from the registry (secrets decrypted in memory only); synchronous when cached. */
export function registryResolver(clients: Pick<ClientAuthenticator, 'selfSigningSecrets'>): ClientResolver {
  const toRecord = (clientId: string, found: SigningSecrets): ClientRecord | undefined =>
    found && {
      clientId,
      rsin: found.client.rsin,
      // A disabled organisation stops its clients' tokens as a disabled client does.
      enabled: found.client.enabled && found.organisationEnabled,
      // A client registered for bound tokens only never holds a bearer token: its self-signed
      // tokens are bearer tokens, refused whatever its row says (rows from before, or imported).
      selfSignedAllowed: found.client.selfSignedAllowed && !boundTokensOnly(found.client),
      secrets: found.secrets,
      scopes: found.client.allowedScopes,
      registration: registrationOf(found.client),
    };
  return (clientId) => {
    const found = clients.selfSigningSecrets(clientId);
    return found instanceof Promise ? found.then((f) => toRecord(clientId, f)) : toRecord(clientId, found);
  };
}

/** RFC 9449 §5.2 / RFC 8705 §3.4: the client is to get sender-constrained tokens only. */
function boundTokensOnly(client: { dpopBoundAccessTokens: boolean; tlsClientCertificateBoundAccessTokens: boolean }) {
  return client.dpopBoundAccessTokens || client.tlsClientCertificateBoundAccessTokens;
}

/**
 * The verifier the server itself uses (introspection, admin API): its own keys in-process, the
 * registry for clients, revocations from the database. Results are remembered for as long as
 * clients are (CLIENT_CACHE_MS) and forgotten on every change the feed reports, so a disabled
 * client or a revoked token is refused from the next request on wherever the change is announced.
 */
export function createServerVerifier(
  config: Config,
  keys: KeyRing,
  clients: Pick<ClientAuthenticator, 'selfSigningSecrets'>,
  revocations: Revocations,
  changes: ChangeFeed,
  now: () => number,
): Verifier {
  const verifier = createVerifier({
    get issuer() {
      return config.issuer;
    },
    keys,
    clients: registryResolver(clients),
    selfSigned: { maxAge: config.selfSignedMaxAge, iatLeeway: config.iatLeeway },
    clockSkew: config.clockSkew,
    isRevoked: (jti) => revocations.isRevoked(jti),
    cache: { revalidateAfterMs: CLIENT_CACHE_MS },
    now,
  });
  changes.onChange(() => verifier.forget());
  return verifier;
}
