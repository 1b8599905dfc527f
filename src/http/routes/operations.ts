import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../app.js';

const READY_TIMEOUT_MS = 2000;

/** Why a process reports unready apart from its checks: shutting down, or an unexpected error. */
interface ProcessState {
  stopping: boolean;
  faultUntil: number;
  fault?: string;
}
const states = new WeakMap<App, ProcessState>();
const stateOf = (app: App): ProcessState => {
  let state = states.get(app);
  if (!state) states.set(app, (state = { stopping: false, faultUntil: 0 }));
  return state;
};

/** Shutting down: the balancer should send nothing new here. */
export function markStopping(app: App): void {
  stateOf(app).stopping = true;
}

/**
 * An error no handler expected: report unready for `ms`, so that a balancer prefers the other
 * processes while this one shows whether it still works; its checks decide again afterwards.
 */
export function markFault(app: App, description: string, ms: number): void {
  const state = stateOf(app);
  state.fault = description;
  state.faultUntil = Date.now() + ms;
}

/** Liveness, readiness and Prometheus metrics, for load balancers and monitoring. */
export function operationsRoutes(server: FastifyInstance, app: App): void {
  server.get('/health/live', async () => ({ status: 'ok' }));

  server.get('/health/ready', async (_request, reply) => {
    // The clients table, not just a connection: a table locked for long is as unready as a database that is away.
    const database = await withTimeout(sql`select 1 from clients limit 1`.execute(app.storage.db), READY_TIMEOUT_MS).then(
      () => 'ok',
      () => 'unreachable',
    );
    const keys = app.keys.current() ? 'ok' : 'none loaded';
    const state = stateOf(app);
    const fault = state.faultUntil > Date.now() ? state.fault : undefined;
    const ready = database === 'ok' && keys === 'ok' && !state.stopping && !fault;
    const checks: Record<string, string> = { database, keys };
    // Redis holds only limits, which fall back per process: reported, but never a reason to take the process out.
    if (app.redis) checks.redis = app.redis.status === 'ready' ? 'ok' : 'unreachable (limits per process)';
    if (state.stopping) checks.process = 'shutting down';
    else if (fault) checks.process = `unexpected error: ${fault}`;
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ok' : 'unavailable', checks });
  });

  server.get('/metrics', async (_request, reply) => reply.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics()));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}
