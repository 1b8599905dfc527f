import type { AuditQuery } from '../audit/audit-store.js';
import type { ClientFilter } from '../clients/client-store.js';
import { ADMIN_SCOPE, type Client, type ClientPatch, ORG_ADMIN_SCOPE, OWN_SCOPE_PREFIX } from '../clients/model.js';
import { ForbiddenError, OAuthError } from '../errors.js';

/**
 * Who administers the registry, and what each may see and change: the one rule the admin API
 * (and any console on the same services) applies.
 *
 * - `global`: holds zgw-auth:admin. Every client, organisation, signing key and setting.
 * - `organisation`: holds zgw-auth:org-admin. The clients of one organisation: the RSIN the
 *   registry has for the administrator's own client. Another organisation's client does not exist
 *   for it (404, absent from lists, counts and the audit trail). It registers clients for its own
 *   RSIN only, grants API scopes and zgw-auth:org-admin but no other zgw-auth scope, and leaves
 *   alone the clients of its organisation that hold one (the platform's). What belongs to the
 *   platform (keys, organisations, export and import, settings) is refused to it (403).
 */
export type Administrator =
  { kind: 'global'; clientId: string } | { kind: 'organisation'; clientId: string; rsin: string };

/**
 * A caller whose token verified: its client id, and the RSIN and scopes the registry has for that
 * client now (the server's verifier takes them from the registry, never from the token's claims).
 */
export interface AdminCaller {
  clientId: string;
  rsin: string | undefined;
  scopes: readonly string[];
}

/** The administrator a caller is; undefined for a client that administers nothing. */
export function administratorOf(caller: AdminCaller): Administrator | undefined {
  if (caller.scopes.includes(ADMIN_SCOPE)) return { kind: 'global', clientId: caller.clientId };
  if (caller.scopes.includes(ORG_ADMIN_SCOPE) && caller.rsin !== undefined)
    return { kind: 'organisation', clientId: caller.clientId, rsin: caller.rsin };
  return undefined;
}

/** Matches no organisation: what a caller that administers nothing may see. */
const NO_ORGANISATION = '\u0000none';

/**
 * The one organisation an administrator sees, or undefined for a global administrator, who sees
 * them all. A caller that administers nothing sees nothing.
 */
export function organisationSeenBy(admin: Administrator | undefined): string | undefined {
  if (admin?.kind === 'global') return undefined;
  return admin?.kind === 'organisation' ? admin.rsin : NO_ORGANISATION;
}

/** Whether a caller (an admin API principal, a console session) is a global administrator. */
export function isGlobalAdministrator(caller: AdminCaller | undefined): boolean {
  return caller !== undefined && administratorOf(caller)?.kind === 'global';
}

/** The administrator scope a console sign-in takes: the global one when the client holds both. */
export function administratorScopeOf(allowedScopes: readonly string[]): string | undefined {
  return allowedScopes.includes(ADMIN_SCOPE)
    ? ADMIN_SCOPE
    : allowedScopes.includes(ORG_ADMIN_SCOPE)
      ? ORG_ADMIN_SCOPE
      : undefined;
}

/** A console sign-in refused after the secret proved right: the client holds no administrator scope. */
export class NotAnAdministratorError extends OAuthError {
  constructor() {
    super('unauthorized_client', `this client holds neither ${ADMIN_SCOPE} nor ${ORG_ADMIN_SCOPE}`);
  }
}

/** Signing keys, organisations, export and import, settings: for global administrators only. */
export function administersPlatform(admin: Administrator): boolean {
  return admin.kind === 'global';
}

/** May `admin` read the organisation `rsin` (its name and counts)? A global administrator any, an organisation administrator its own. */
export function mayReadOrganisation(admin: Administrator, rsin: string): boolean {
  return admin.kind === 'global' || rsin === admin.rsin;
}

/** Whether the client exists for this administrator. */
export function maySee(admin: Administrator, client: Pick<Client, 'rsin'>): boolean {
  return admin.kind === 'global' || client.rsin === admin.rsin;
}

/** zgw-auth's own scopes that only a global administrator grants: all of them but zgw-auth:org-admin. */
export function isPlatformScope(scope: string): boolean {
  // In any case: a resource server that compares scopes ignoring case must not read ZGW-AUTH:ADMIN as ours.
  return scope.toLowerCase().startsWith(OWN_SCOPE_PREFIX) && scope !== ORG_ADMIN_SCOPE;
}

/** May `admin` register a client with these fields? Throws ForbiddenError if not. */
export function checkNewClient(
  admin: Administrator,
  input: { rsin: string; allowedScopes?: string[] | undefined; defaultScopes?: string[] | undefined },
): void {
  if (admin.kind === 'global') return;
  if (input.rsin !== admin.rsin)
    throw new ForbiddenError(
      `an organisation administrator registers clients of its own organisation (${admin.rsin}) only`,
    );
  checkGrants([...(input.allowedScopes ?? []), ...(input.defaultScopes ?? [])]);
}

/**
 * May `admin` change this client, which it sees: update it with `patch`, enable, disable or delete
 * it, add or revoke its secrets (no patch)? Throws ForbiddenError if not.
 */
export function checkClientChange(
  admin: Administrator,
  client: Pick<Client, 'clientId' | 'allowedScopes'>,
  patch: ClientPatch = {},
): void {
  if (admin.kind === 'global') return;
  // A secret added to such a client would hand its rights to the organisation administrator.
  if (client.allowedScopes.some(isPlatformScope)) {
    throw new ForbiddenError(
      `client "${client.clientId}" holds zgw-auth scopes only a global administrator grants; only a global administrator changes it`,
    );
  }
  if (patch.rsin !== undefined && patch.rsin !== admin.rsin)
    throw new ForbiddenError(`an organisation administrator cannot move a client to another organisation`);
  checkGrants([...(patch.allowedScopes ?? []), ...(patch.defaultScopes ?? [])]);
}

function checkGrants(scopes: string[]): void {
  const refused = [...new Set(scopes.filter(isPlatformScope))];
  if (refused.length)
    throw new ForbiddenError(
      `an organisation administrator grants API scopes and ${ORG_ADMIN_SCOPE}, not ${refused.join(' ')}`,
    );
}

/** The client list filter narrowed to what `admin` sees; undefined when it asks for another organisation (an empty page). */
export function clientFilterFor(admin: Administrator, filter: ClientFilter): ClientFilter | undefined {
  if (admin.kind === 'global') return filter;
  if (filter.rsin !== undefined && filter.rsin !== admin.rsin) return undefined;
  return { ...filter, rsin: admin.rsin };
}

/** The audit query narrowed to what `admin` sees; undefined when it asks for another organisation (no events). */
export function auditQueryFor(admin: Administrator, query: AuditQuery): AuditQuery | undefined {
  if (admin.kind === 'global') return query;
  if (query.organisation !== undefined && query.organisation !== admin.rsin) return undefined;
  return { ...query, organisation: admin.rsin };
}
