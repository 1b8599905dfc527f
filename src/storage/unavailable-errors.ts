/** Database unreachable, refusing connections, locked or timing out: a 503 the caller may retry, not a 500. */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code) ||
    // PostgreSQL: connection exception (08), insufficient resources such as too many connections
    // (53), operator intervention such as shutdown or recovery (57P), lock and statement timeouts.
    /^(08|53|57P)/.test(code) ||
    code === '55P03' ||
    code === '57014' ||
    code.startsWith('SQLITE_BUSY') ||
    /timeout exceeded when trying to connect|Connection terminated|Query read timeout|not queryable/i.test(
      e.message ?? '',
    )
  );
}
