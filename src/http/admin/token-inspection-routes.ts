import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MAX_TOKEN_LENGTH } from '@zgw-auth/verifier';
import { Type } from '#typebox';
import { inspectToken, type TokenInspectionDeps } from '../../inspection/inspect-token.js';

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

export type TokenInspectionRoutesOptions = TokenInspectionDeps;

/** POST /admin/tokens/inspect: the token inspection use case (src/inspection/inspect-token.ts). */
export const tokenInspectionRoutes: FastifyPluginAsyncTypebox<TokenInspectionRoutesOptions> = async (admin, deps) => {
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
      const explained = await inspectToken(deps, {
        token: request.body.token,
        address: request.ip,
        administrator: request.administrator,
      });
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
