import type { AuditEvent } from './audit-store.js';

/** An audit event as the trail stores it: its details as JSON text, shipped without parsing when nothing in them needs redacting. */
export type StoredEvent = Omit<AuditEvent, 'details'> & { details: string };

/**
 * Names of details fields whose values never leave zgw-auth, at any depth: the audit trail keeps
 * no secret or token (every writer leaves them out), and a sink outside the registry's control is
 * the last place one may slip into. The same names pino redacts in log lines, and a few more.
 */
const NEVER_SHIPPED = new Set([
  'secret',
  'client_secret',
  'clientSecret',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'id_token',
  'token',
  'client_assertion',
  'assertion',
  'password',
  'private_key',
  'privateKey',
  'value',
]);
/** A JSON text that may name one of them as a key (or spells a key with escapes, which the look cannot read). */
const MAY_NAME = new RegExp(`"(${[...NEVER_SHIPPED].join('|')})"\\s*:|\\\\u`);
const REDACTED = '[redacted]';
/** Nesting kept at most; deeper values are replaced (details are shallow; this bounds the work). */
const MAX_DEPTH = 16;

/** Details as shipped: fields named in NEVER_SHIPPED replaced by "[redacted]", wherever they sit. */
export function shippedDetails(details: Record<string, unknown>): Record<string, unknown> {
  return redact(details, 0) as Record<string, unknown>;
}

/**
 * Details (JSON text, as stored) as shipped: the text itself when no key in it can be one of
 * NEVER_SHIPPED, which is what almost every event is (a token issued: jti, scope, lifetime);
 * otherwise parsed, redacted and written again. Text that does not parse is not shipped.
 */
export function shippedDetailsJson(text: string): string {
  if (!MAY_NAME.test(text)) return text;
  try {
    return JSON.stringify(shippedDetails(JSON.parse(text) as Record<string, unknown>));
  } catch {
    return JSON.stringify({ unreadable: true });
  }
}

function redact(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = NEVER_SHIPPED.has(k) ? REDACTED : redact(v, depth + 1);
  return out;
}
