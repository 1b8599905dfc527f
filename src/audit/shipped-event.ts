import type { AuditEvent } from './audit-store.js';

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
const REDACTED = '[redacted]';
/** Nesting kept at most; deeper values are replaced (details are shallow; this bounds the work). */
const MAX_DEPTH = 16;

/** Details as shipped: fields named in NEVER_SHIPPED replaced by "[redacted]", wherever they sit. */
export function shippedDetails(details: Record<string, unknown>): Record<string, unknown> {
  return redact(details, 0) as Record<string, unknown>;
}

function redact(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = NEVER_SHIPPED.has(k) ? REDACTED : redact(v, depth + 1);
  return out;
}

/** The fields of an event as every sink carries them, details redacted. */
export function shippedEvent(e: AuditEvent): AuditEvent {
  return {
    id: e.id,
    at: e.at,
    actor: e.actor,
    action: e.action,
    target: e.target,
    address: e.address,
    reason: e.reason,
    details: shippedDetails(e.details),
    organisation: e.organisation,
  };
}
