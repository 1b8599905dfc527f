import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.js';

const READY_TIMEOUT_MS = 2000;

/** Liveness, readiness and Prometheus metrics, for load balancers and monitoring. */
export function operationsRoutes(server: FastifyInstance, app: App): void {
  server.get('/health/live', async () => ({ status: 'ok' }));

  server.get('/health/ready', async (_request, reply) => {
    const database = await withTimeout(sql`select 1`.execute(app.storage.db), READY_TIMEOUT_MS).then(
      () => 'ok',
      () => 'unreachable',
    );
    const keys = app.keys.current() ? 'ok' : 'none loaded';
    const ready = database === 'ok' && keys === 'ok';
    return reply.code(ready ? 200 : 503).header('cache-control', 'no-store').send({ status: ready ? 'ok' : 'unavailable', checks: { database, keys } });
  });

  server.get('/metrics', async (_request, reply) => reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics()));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}
