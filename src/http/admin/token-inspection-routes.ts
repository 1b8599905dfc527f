import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MAX_TOKEN_LENGTH, type Verifier } from '@zgw-auth/verifier';
import { Type } from 'typebox';
import type { ClientService } from '../../clients/client-service.js';
import { NotFoundError } from '../../errors.js';
import { tooManyAttempts } from './self-signed-backoff.js';
import { explainToken, type TokenExplanation } from '../../inspection/explain-token.js';
import { type SelfSignedGuessing, verifyCountingGuesses } from '../../tokens/self-signed-guesses.js';
import { organisationSeenBy } from '../../organisations/administration-policy.js';

const anyObject = Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true });
const inspectionSchema = Type.Object({
  header: Type.Union([anyObject, Type.Null()]),
  payload: Type.Union([anyObject, Type.Null()]),
  times: Type.Array(
    Type.Object({
      claim: Type.String(),
      at: Type.Number({ description: 'epoch seconds' }),
      secondsFromNow: Type.Integer(),
    }),
  ),
  verdict: Type.Object({
    valid: Type.Boolean(),
    code: Type.Optional(
      Type.String({ description: "the verifier's refusal code, e.g. expired, bad_signature, rsin_mismatch" }),
    ),
    message: Type.Optional(Type.String()),
    kind: Type.Optional(Type.String()),
    clientId: Type.Optional(Type.String()),
    expiresAt: Type.Optional(Type.Integer({ description: 'epoch seconds' })),
    scopes: Type.Optional(
      Type.Array(Type.String(), {
        description: "what the token lets its caller do (self-signed: the client's registered scopes)",
      }),
    ),
  }),
});

export interface TokenInspectionRoutesOptions {
  verifier: Pick<Verifier, 'verify'>;
  /** Verifying a self-signed token tests a guess at its client's secret: the back-off of /token applies. */
  guessing: SelfSignedGuessing;
  clients: Pick<ClientService, 'get'>;
  now: () => number;
}

/**
 * POST /admin/tokens/inspect: a token's header, claims and times, and whether zgw-auth accepts it
 * (the verifier of /introspect: keys, registry, revocations), with the refusal's code and reason.
 * An organisation administrator inspects only tokens of its own organisation's clients; another's
 * token reads as an unknown client, without being verified. A refused self-signed token counts as a
 * failed guess at its client's secret, from the caller's address, as at /token.
 */
export const tokenInspectionRoutes: FastifyPluginAsyncTypebox<TokenInspectionRoutesOptions> = async (
  admin,
  { verifier, guessing, clients, now },
) => {
  admin.post(
    '/tokens/inspect',
    {
      schema: {
        body: Type.Object(
          { token: Type.String({ minLength: 1, maxLength: MAX_TOKEN_LENGTH }) },
          { additionalProperties: false },
        ),
        response: { 200: inspectionSchema },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const own = organisationSeenBy(request.administrator);
      const decoded = await explainToken(request.body.token, undefined, now() / 1000);
      let explained: TokenExplanation = decoded;
      const clientId = decoded.payload?.client_id;
      if (
        own !== undefined &&
        decoded.payload &&
        !(typeof clientId === 'string' && (await visibleTo(clients, clientId, own)))
      ) {
        explained = {
          ...decoded,
          verdict: {
            verified: true,
            valid: false,
            code: 'unknown_client',
            message: 'the token names no client of your organisation',
          },
        };
      } else if (decoded.header) {
        const counted = {
          verify: async (token: string) => {
            const result = await verifyCountingGuesses(guessing, token, request.ip, 'admin', () =>
              verifier.verify(token),
            );
            if ('retryAfter' in result) {
              throw tooManyAttempts(result.retryAfter);
            }
            return result.principal;
          },
        };
        explained = await explainToken(request.body.token, counted, now() / 1000);
      }
      const v = explained.verdict;
      return {
        header: explained.header ?? null,
        payload: explained.payload ?? null,
        times: explained.times,
        verdict: !v.verified
          ? { valid: false }
          : v.valid
            ? { valid: true, kind: v.kind, clientId: v.clientId, expiresAt: v.expiresAt, scopes: v.scopes }
            : { valid: false, code: v.code, message: v.message },
      };
    },
  );
};

async function visibleTo(clients: Pick<ClientService, 'get'>, clientId: string, rsin: string): Promise<boolean> {
  try {
    return (await clients.get(clientId)).rsin === rsin;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}
