import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../ops/metrics.js';
import type { Readiness } from '../../ops/readiness.js';

export interface OperationsRoutesOptions {
  readiness: Pick<Readiness, 'check'>;
  metrics: Pick<Metrics, 'registry'>;
}

/** Liveness, readiness and Prometheus metrics, for load balancers and monitoring. */
export const operationsRoutes: FastifyPluginAsync<OperationsRoutesOptions> = async (server, { readiness, metrics }) => {
  server.get('/health/live', async () => ({ status: 'ok' }));

  server.get('/health/ready', async (_request, reply) => {
    const { ready, checks } = await readiness.check();
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ok' : 'unavailable', checks });
  });

  server.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
};
