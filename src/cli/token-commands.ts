import { type Command, InvalidArgumentError } from 'commander';
import { ValidationError, ZgwAuthError } from '../errors.js';
// Imported by the command that uses them (`await import`): signing, the verifier and the token
// explanation load only for the token commands, not for every other command's start.
import type { TokenExplanation, TokenTime } from '../inspection/explain-token.js';
import type { CliContext } from './context.js';

const seconds = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected whole seconds');
  return Number(v);
};

function secretFrom(o: { clientSecret?: string }, env: NodeJS.ProcessEnv): string {
  const secret = o.clientSecret ?? env.ZGW_AUTH_CLIENT_SECRET;
  if (!secret) throw new ValidationError('give the secret with --client-secret or ZGW_AUTH_CLIENT_SECRET');
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
    .action(async (o) => {
      const { createSelfSignedToken } = await import('../tokens/self-signed-token.js');
      ctx.out(
        createSelfSignedToken({
          clientId: o.clientId,
          secret: secretFrom(o, ctx.env),
          userId: o.userId,
          userRepresentation: o.userRepresentation,
          rsin: o.rsin,
          lifetimeSeconds: o.lifetime,
        }),
      );
    });

  token
    .command('get')
    .description('fetch an access token from an OAuth2 token endpoint found via discovery')
    .requiredOption(
      '--server <url>',
      'issuer URL of the server (its /.well-known/openid-configuration names the token endpoint)',
    )
    .requiredOption('--client-id <id>', 'client id')
    .option('--client-secret <secret>', 'client secret (or env ZGW_AUTH_CLIENT_SECRET)')
    .option('--scope <scopes>', 'space-separated scopes')
    .option('--json', 'print the whole token response')
    .action(async (o) => {
      const { basicCredentials } = await import('@zgw-auth/verifier');
      const meta = (await (
        await fetch(`${String(o.server).replace(/\/+$/, '')}/.well-known/openid-configuration`, {
          signal: AbortSignal.timeout(10_000),
        })
      ).json()) as { token_endpoint?: string };
      if (!meta.token_endpoint)
        throw new ZgwAuthError('upstream_error', 'the discovery document names no token_endpoint');
      const res = await fetch(meta.token_endpoint, {
        method: 'POST',
        headers: {
          authorization: basicCredentials(o.clientId, secretFrom(o, ctx.env)),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          ...(o.scope ? { scope: o.scope } : {}),
        }).toString(),
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!res.ok || !body.access_token)
        throw new ZgwAuthError(
          'upstream_error',
          `token endpoint answered ${res.status}: ${body.error ?? ''} ${body.error_description ?? ''}`.trim(),
        );
      ctx.out(o.json ? JSON.stringify(body) : body.access_token);
    });

  token
    .command('inspect <jwt>')
    .description(
      "decode a token and give zgw-auth's verdict, from the server's own verifier: on the registry of this configuration (as serve runs it), or with --server from that server; exit 0 valid, 1 invalid, 2 could not check",
    )
    .option(
      '--server <url>',
      'ask this zgw-auth server for its verdict (POST /admin/tokens/inspect), with --admin-token',
    )
    .option(
      '--admin-token <token>',
      'bearer token of an administrator of that server (zgw-auth:admin or zgw-auth:org-admin; or env ZGW_AUTH_ADMIN_TOKEN)',
    )
    .option(
      '--client-secret <secret>',
      'refused: a secret alone cannot tell whether the server accepts a token (its client may be disabled, its rsin differ, …)',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        jwt: string,
        o: { server?: string; adminToken?: string; clientSecret?: string; json?: boolean },
        cmd: Command,
      ) => {
        let inspection: Inspection;
        try {
          const { explainToken } = await import('../inspection/explain-token.js');
          if (o.clientSecret !== undefined) {
            throw new ValidationError(
              '--client-secret no longer checks a token on its own: run with the configuration of the server (its registry) or give --server',
            );
          }
          const decoded = await explainToken(jwt, undefined, Date.now() / 1000);
          // A token that does not decode is refused by any verifier: no registry or server needed.
          if (decoded.verdict.verified) inspection = inspectionOf(decoded, 'decoding');
          else if (o.server) inspection = await askServer(jwt, o.server, o.adminToken ?? ctx.env.ZGW_AUTH_ADMIN_TOKEN);
          else
            inspection = await ctx.withApp(
              cmd,
              async (app) => inspectionOf(await explainToken(jwt, app.verifier, app.now() / 1000), 'registry'),
              { verifier: true },
            );
        } catch (err) {
          ctx.err(`zgw-auth: could not check the token: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exitCode = EXIT_NOT_CHECKED;
          return;
        }
        const v = inspection.verdict;
        process.exitCode = v.valid ? 0 : EXIT_INVALID;
        const verification = v.valid ? { ...v, expiresAt: new Date(v.expiresAt * 1000).toISOString() } : v;
        if (o.json)
          return ctx.out(
            JSON.stringify({
              header: inspection.header,
              payload: inspection.payload,
              times: inspection.times,
              verification,
              checkedBy: inspection.checkedBy,
            }),
          );
        if (inspection.header)
          ctx.out(
            `header:  ${JSON.stringify(inspection.header)}\npayload: ${JSON.stringify(inspection.payload, null, 2)}`,
          );
        for (const line of inspection.times) ctx.out(line);
        ctx.out(
          v.valid
            ? `VALID (${v.kind})${v.scopes.length ? `, scopes: ${v.scopes.join(' ')}` : ''}`
            : `INVALID: ${v.code}: ${v.message}`,
        );
      },
    );
}

/** `exp: 2026-01-01T00:00:00.000Z (240 s ago)`: a time claim in the CLI's words. */
export function describeTime(t: TokenTime): string {
  const d = t.secondsFromNow;
  const iso = Math.abs(t.at) < 8.64e12 ? new Date(t.at * 1000).toISOString() : String(t.at);
  return `${t.claim}: ${iso} (${d >= 0 ? `in ${d} s` : `${-d} s ago`})`;
}

const EXIT_INVALID = 1;
const EXIT_NOT_CHECKED = 2;

/** A token's header, claims and times, and the verdict of the server's verifier, and who gave it. */
interface Inspection {
  header: Record<string, unknown> | null;
  payload: Record<string, unknown> | null;
  times: string[];
  verdict:
    | { valid: true; kind: string; clientId: string; expiresAt: number; scopes: string[] }
    | { valid: false; code: string; message: string };
  checkedBy: string;
}

function inspectionOf(e: TokenExplanation, checkedBy: string): Inspection {
  const v = e.verdict;
  if (!v.verified) throw new ZgwAuthError('upstream_error', 'the token was not verified');
  return {
    header: e.header ?? null,
    payload: e.payload ?? null,
    times: e.times.map(describeTime),
    verdict: v.valid
      ? { valid: true, kind: v.kind, clientId: v.clientId, expiresAt: v.expiresAt, scopes: v.scopes }
      : { valid: false, code: v.code, message: v.message },
    checkedBy,
  };
}

/** The server's own verdict, from its admin API's token inspector (the verifier of /introspect). */
async function askServer(jwt: string, server: string, adminToken: string | undefined): Promise<Inspection> {
  if (!adminToken)
    throw new ValidationError(
      "--server needs an administrator's token: --admin-token or ZGW_AUTH_ADMIN_TOKEN (zgw-auth token get --scope zgw-auth:admin)",
    );
  const url = new URL('/admin/tokens/inspect', server);
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ token: jwt.trim() }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as {
    error?: string;
    error_description?: string;
    header?: Record<string, unknown> | null;
    payload?: Record<string, unknown> | null;
    times?: TokenTime[];
    verdict?: {
      valid?: boolean;
      kind?: string;
      clientId?: string;
      expiresAt?: number;
      scopes?: string[];
      code?: string;
      message?: string;
    };
  };
  const v = body.verdict;
  if (res.status !== 200 || typeof v?.valid !== 'boolean')
    throw new ZgwAuthError(
      'upstream_error',
      `${url.href} answered ${res.status}${body.error ? `: ${body.error}` : ''}${body.error_description ? ` (${body.error_description})` : ''}`,
    );
  return {
    header: body.header ?? null,
    payload: body.payload ?? null,
    times: (body.times ?? []).map(describeTime),
    verdict: v.valid
      ? {
          valid: true,
          kind: String(v.kind),
          clientId: String(v.clientId),
          expiresAt: Number(v.expiresAt),
          scopes: v.scopes ?? [],
        }
      : { valid: false, code: String(v.code), message: String(v.message) },
    checkedBy: url.origin,
  };
}
