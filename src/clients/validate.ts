import { ValidationError } from '../errors.js';
import { type ClientPatch, GRANT_TYPES, isAllowedStaticClaim, STATIC_CLAIM_NAMES } from './model.js';
import { isValidRsin } from './rsin.js';

/** 1–50 characters, URL-unreserved, so ids are safe in paths, Basic credentials and logs. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,49}$/;
/** RFC 6749 §3.3 scope-token. */
export const SCOPE_PATTERN = /^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/;
const MAX_SCOPES = 50;
const MAX_STATIC_CLAIMS_BYTES = 4096;

export function validateClientId(id: string): void {
  if (!CLIENT_ID_PATTERN.test(id)) {
    throw new ValidationError('client id must be 1-50 characters of A-Z a-z 0-9 . _ ~ - and start with a letter or digit', 'clientId');
  }
}

export function validateRsin(rsin: string): void {
  if (!isValidRsin(rsin)) throw new ValidationError(`"${rsin.slice(0, 20)}" is not a valid RSIN (9 digits passing the 11-test)`, 'rsin');
}

function validateScopes(scopes: string[], field: string): void {
  if (scopes.length > MAX_SCOPES) throw new ValidationError(`at most ${MAX_SCOPES} scopes`, field);
  for (const s of scopes) {
    if (typeof s !== 'string' || !SCOPE_PATTERN.test(s)) throw new ValidationError(`invalid scope "${String(s).slice(0, 100)}"`, field);
  }
}

/** Validates the fields present in a create or update; the caller merges with the stored client. */
export function validateClientFields(input: ClientPatch & { allowedScopes?: string[] }): void {
  if (input.rsin !== undefined) validateRsin(input.rsin);
  if (input.name !== undefined && (input.name.length > 200 || /[\u0000-\u001f]/.test(input.name))) throw new ValidationError('name: at most 200 characters, no control characters', 'name');
  if (input.description !== undefined && input.description.length > 2000) throw new ValidationError('description: at most 2000 characters', 'description');
  if (input.grantTypes !== undefined) {
    for (const g of input.grantTypes) if (!(GRANT_TYPES as readonly string[]).includes(g)) throw new ValidationError(`unsupported grant type "${String(g).slice(0, 50)}"`, 'grantTypes');
  }
  if (input.allowedScopes !== undefined) validateScopes(input.allowedScopes, 'allowedScopes');
  if (input.defaultScopes !== undefined) validateScopes(input.defaultScopes, 'defaultScopes');
  if (input.tokenLifetime !== undefined && input.tokenLifetime !== null) {
    if (!Number.isInteger(input.tokenLifetime) || input.tokenLifetime < 1 || input.tokenLifetime > 31_536_000) throw new ValidationError('tokenLifetime: whole seconds from 1', 'tokenLifetime');
  }
  if (input.staticClaims !== undefined) {
    validateStaticClaims(input.staticClaims);
    if (Buffer.byteLength(JSON.stringify(input.staticClaims)) > MAX_STATIC_CLAIMS_BYTES) throw new ValidationError(`staticClaims: at most ${MAX_STATIC_CLAIMS_BYTES} bytes of JSON`, 'staticClaims');
  }
}

/** Only allowed names (see isAllowedStaticClaim), and the ZGW user claims as strings, as verifiers expect them. */
export function validateStaticClaims(claims: Record<string, unknown>): void {
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new ValidationError('staticClaims must be an object', 'staticClaims');
  for (const [name, value] of Object.entries(claims)) {
    if (!isAllowedStaticClaim(name)) {
      throw new ValidationError(`staticClaims may not set "${name.slice(0, 60)}": allowed are ${STATIC_CLAIM_NAMES.join(', ')} and collision-resistant names (https://… or urn:…)`, 'staticClaims');
    }
    if (STATIC_CLAIM_NAMES.includes(name) && typeof value !== 'string') throw new ValidationError(`staticClaims.${name} must be a string`, 'staticClaims');
  }
}

export function validateDefaultScopesAllowed(defaultScopes: string[], allowedScopes: string[]): void {
  const notAllowed = defaultScopes.filter((s) => !allowedScopes.includes(s));
  if (notAllowed.length) throw new ValidationError(`default scopes must be allowed scopes; not allowed: ${notAllowed.join(' ')}`, 'defaultScopes');
}
