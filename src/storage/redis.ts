import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export type { Redis };

/**
 * A Redis connection that fails fast instead of queueing: a command while Redis is away errors at
 * once (callers fall back), and the client keeps reconnecting in the background.
 */
export async function connectRedis(url: string, log: Logger): Promise<Redis> {
  // Loaded only when configured: ioredis adds 8 MB to every process that never uses it.
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    commandTimeout: 500,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
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
