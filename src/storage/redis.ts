import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Tracing } from '../tracing.js';

export type { Redis };

/**
 * A Redis connection that fails fast instead of queueing: a command while Redis is away errors at
 * once (callers fall back), and the client keeps reconnecting in the background.
 */
export async function connectRedis(url: string, log: Logger, tracing?: Tracing): Promise<Redis> {
  // Loaded only when configured: ioredis adds 8 MB to every process that never uses it.
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 500,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  if (tracing) traceCommands(redis, tracing, url);
  let down = false;
  redis.on('error', (err) => {
    if (!down) log.warn({ err: { message: err.message } }, 'Redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info({}, 'Redis connection restored');
    down = false;
  });
  // Start with shared limits when Redis is there; never let Redis hold up start-up for long.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 1000);
    redis.once('ready', () => (clearTimeout(timer), resolve()));
  });
  return redis;
}

/**
 * A span per command sent inside a span (a request's): its name (`EVALSHA`, `INCR`), never its
 * keys or arguments, which hold client ids and addresses.
 */
function traceCommands(redis: Redis, tracing: Tracing, url: string): void {
  const { hostname, port } = new URL(url);
  const base = { 'db.system.name': 'redis', 'server.address': hostname, 'server.port': Number(port || 6379) };
  const send = redis.sendCommand.bind(redis);
  type Command = Parameters<Redis['sendCommand']>[0];
  redis.sendCommand = ((command: Command, ...rest: unknown[]) => {
    const name = command.name.toUpperCase().slice(0, 40);
    const span = tracing.start(name, {
      kind: 'client',
      attributes: { ...base, 'db.operation.name': name },
      requireParent: true,
    });
    if (span)
      (command.promise as Promise<unknown>).then(
        () => span.end(),
        (err: unknown) => span.end(err),
      );
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as Redis['sendCommand'];
}
