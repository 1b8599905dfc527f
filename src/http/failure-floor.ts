import type { FastifyReply } from 'fastify';

/**
 * A failed authentication is answered no sooner than this after the request arrived. An unknown
 * client id costs a database lookup that a recently active client, served from memory, does not:
 * without a floor the answer's timing would tell which client ids exist and are in use. A floor
 * above any such difference hides it, and costs a legitimate client nothing (it only waits when it
 * sent a wrong secret) while it slows a guesser further.
 */
export const FAILURE_FLOOR_MS = 10;

export function failureFloor(reply: FastifyReply): Promise<void> | undefined {
  const wait = FAILURE_FLOOR_MS - reply.elapsedTime;
  // Timers count whole milliseconds and would round a fraction down.
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, Math.ceil(wait))) : undefined;
}
