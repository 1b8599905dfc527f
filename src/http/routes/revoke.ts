import type { FastifyPluginAsync } from 'fastify';
import { attempt } from '../../errors.js';
import type { RevokeToken } from '../../tokens/revoke-token.js';
import { clientCredentials } from '../client-credentials.js';
import { FormBody } from '../form-body.js';

export interface RevokeRouteOptions {
  revokeToken: RevokeToken;
}

/** POST /revoke (RFC 7009): 200 with an empty body whenever the token is (or counts as) revoked. */
export const revokeRoute: FastifyPluginAsync<RevokeRouteOptions> = async (server, { revokeToken }) => {
  server.post('/revoke', async (request, reply) => {
    reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
    const body = request.body instanceof FormBody ? request.body : FormBody.empty();
    await revokeToken({
      credentials: attempt(() => clientCredentials(request.headers.authorization, body)),
      token: attempt(() => body.get('token')),
      address: request.ip,
    });
    return reply.code(200).send();
  });
};
