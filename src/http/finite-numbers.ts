/**
 * Fastify's validator coerces query, path and form values to the numbers their schemas ask for,
 * and a numeral past the range of doubles (`1e400`, `Infinity`, 400 nines) becomes Infinity,
 * which Ajv then lets through an integer type and its minimum and maximum. Every number a request
 * carries after validation is checked here to be finite, so that no bound is passed that way.
 */

/** Nesting looked into: request bodies are shallower (an autorisatie's fields). */
const MAX_DEPTH = 8;

/** The path (dotted, from the part's top) of the first number in `value` that is not finite; undefined when none. */
export function nonFiniteNumberAt(value: unknown, depth = 0): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : '';
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return undefined;
  for (const [key, v] of Object.entries(value)) {
    const below = nonFiniteNumberAt(v, depth + 1);
    if (below !== undefined) return below === '' ? key : `${key}.${below}`;
  }
  return undefined;
}
