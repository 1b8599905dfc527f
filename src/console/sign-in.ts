import type { Client } from '../clients/model.js';
import { issueToken, type IssueTokenDeps } from '../tokens/issue-token.js';

export type SignInDeps = IssueTokenDeps;

export interface SignedIn {
  client: Client;
  scope: string;
  accessToken: string;
  jti: string;
  /** The secret the sign-in used. */
  secretId: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/**
 * Console sign-in with an administrator client's id and secret: the token use case of /token (its
 * client authentication, guessing back-off and audit trail, the organisation included), asking for
 * the administrator scope the client holds, for `lifetime` seconds. The token stays on the server.
 * Refusals are those of /token; NotAnAdministratorError when the client administers nothing.
 */
export async function signIn(
  deps: SignInDeps,
  credentials: { clientId: string; secret: string },
  address: string,
  lifetime: number,
  nowSeconds: number,
): Promise<SignedIn> {
  const token = await issueToken(deps, {
    grantType: 'client_credentials',
    credentials: { ...credentials, method: 'client_secret_post' },
    scope: undefined,
    address,
    console: { lifetime },
  });
  return {
    client: token.client,
    scope: token.scope ?? '',
    accessToken: token.accessToken,
    jti: token.jti,
    // A console sign-in presents a secret: its id is always there.
    secretId: token.secretId ?? '',
    expiresAt: nowSeconds + token.expiresIn,
  };
}
