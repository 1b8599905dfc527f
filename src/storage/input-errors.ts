/**
 * Database refusals caused by the input rather than the database: a value PostgreSQL cannot store
 * (NUL in text, a number beyond bigint, a too long string). Validation refuses these first; this is
 * the net under it, so that such input answers 400 and never 500.
 */
const INPUT_SQLSTATES = new Set(['22001', '22003', '22021', '22P02', '22P05', '54000']);

export function isRejectedInput(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && INPUT_SQLSTATES.has(code);
}
