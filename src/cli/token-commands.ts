import { type Command, InvalidArgumentError } from 'commander';
import { basicCredentials, createVerifier, decodeJwt } from '@zgw-auth/verifier';
import { describeTime, explainToken } from '../inspection/explain-token.js';
import { createSelfSignedToken } from '../tokens/self-signed-token.js';
import type { CliContext } from './context.js';

const seconds = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected whole seconds');
  return Number(v);
};

function secretFrom(o: { clientSecret?: string }): string {
  const secret = o.clientSecret ?? process.env.ZGW_AUTH_CLIENT_SECRET;
  if (!secret) throw new Error('give the secret with --client-secret or ZGW_AUTH_CLIENT_SECRET');
  return secret;
}

export function tokenCommands(program: Command, ctx: CliContext): void {
  const token = program.command('token').description('make, fetch and explain tokens');

  token
    .command('create')
    .description("sign a self-signed ZGW token (HS256) with a client secret, as the seed's Postman snippet does")
    .requiredOption('--client-id <id>', 'client id')
    .option('--client-secret <secret>', 'client secret (or env ZGW_AUTH_CLIENT_SECRET)')
    .option('--user-id <id>', 'user_id claim')
    .option('--user-representation <text>', 'user_representation claim')
    .option('--rsin <rsin>', 'rsin claim (must match the registered organisation)')
    .option('--lifetime <seconds>', 'exp - iat', seconds, 3600)
    .action((o) => {
      ctx.out(createSelfSignedToken({ clientId: o.clientId, secret: secretFrom(o), userId: o.userId, userRepresentation: o.userRepresentation, rsin: o.rsin, lifetimeSeconds: o.lifetime }));
    });

  token
    .command('get')
    .description('fetch an access token from an OAuth2 token endpoint found via discovery')
    .requiredOption('--server <url>', 'issuer URL of the server (its /.well-known/openid-configuration names the token endpoint)')
    .requiredOption('--client-id <id>', 'client id')
    .option('--client-secret <secret>', 'client secret (or env ZGW_AUTH_CLIENT_SECRET)')
    .option('--scope <scopes>', 'space-separated scopes')
    .option('--json', 'print the whole token response')
    .action(async (o) => {
      const meta = (await (await fetch(`${String(o.server).replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) })).json()) as { token_endpoint?: string };
      if (!meta.token_endpoint) throw new Error('the discovery document names no token_endpoint');
      const res = await fetch(meta.token_endpoint, {
        method: 'POST',
        headers: { authorization: basicCredentials(o.clientId, secretFrom(o)), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', ...(o.scope ? { scope: o.scope } : {}) }).toString(),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!res.ok || !body.access_token) throw new Error(`token endpoint answered ${res.status}: ${body.error ?? ''} ${body.error_description ?? ''}`.trim());
      ctx.out(o.json ? JSON.stringify(body) : body.access_token);
    });

  token
    .command('inspect <jwt>')
    .description('decode a token and, given --server or --client-secret, verify it and explain the outcome')
    .option('--server <url>', "verify an IdP token against this issuer's discovery document and JWKS")
    .option('--client-secret <secret>', 'verify a self-signed token with this secret')
    .option('--json', 'print JSON')
    .action(async (jwt: string, o) => {
      const clientSecret = o.clientSecret as string | undefined;
      // Without --server or --client-secret there is nothing to verify with: decoding alone proves nothing.
      const verifier =
        o.server || clientSecret
          ? createVerifier({
              issuer: o.server,
              clients: clientSecret ? (clientId) => ({ clientId, rsin: String(payloadOf(jwt).rsin ?? ''), enabled: true, selfSignedAllowed: true, secrets: [clientSecret] }) : undefined,
              cache: false,
            })
          : undefined;
      const { header, payload, times, verdict } = await explainToken(jwt, verifier, Date.now() / 1000);
      if (!header || !payload) throw new Error(verdict.verified && !verdict.valid ? verdict.message : 'not a JWT');
      const verification = !verdict.verified
        ? { verified: false, message: 'not verified: give --server (tokens of a zgw-auth server) or --client-secret (self-signed tokens)' }
        : verdict.valid
          ? { valid: true, kind: verdict.kind, clientId: verdict.clientId, expiresAt: new Date(verdict.expiresAt * 1000).toISOString() }
          : { valid: false, code: verdict.code, message: verdict.message };
      if (verdict.verified && !verdict.valid) process.exitCode = 1;
      const report = { header, payload, times: times.map(describeTime), verification };
      if (o.json) return ctx.out(JSON.stringify(report));
      ctx.out(`header:  ${JSON.stringify(header)}\npayload: ${JSON.stringify(payload, null, 2)}`);
      for (const line of report.times) ctx.out(line);
      ctx.out(!verdict.verified ? verification.message! : verdict.valid ? `VALID (${verdict.kind})` : `INVALID: ${verdict.code}: ${verdict.message}`);
    });
}

/** The claims of a token that decodes, else none. */
function payloadOf(jwt: string): Record<string, unknown> {
  try {
    return decodeJwt(jwt.trim()).payload;
  } catch {
    return {};
  }
}
