import { holdsControlCharacters } from '../control-characters.js';
import { DnSyntaxError, parseDn } from '../pki/distinguished-name.js';
import { ValidationError } from '../errors.js';
import { CLIENT_LIMITS } from './client-limits.js';
import {
  type Client,
  CLIENT_AUTH_METHODS,
  type ClientPatch,
  GRANT_TYPES,
  isAllowedStaticClaim,
  STATIC_CLAIM_NAMES,
  TLS_SUBJECT_FIELDS,
} from './model.js';
import { validateRsin } from './rsin.js';

export const CLIENT_ID_RULE = `1-${CLIENT_LIMITS.clientId} characters of A-Z a-z 0-9 . _ ~ -, the first a letter or digit`;
/** URL-unreserved, so ids are safe in paths, Basic credentials and logs. */
export const CLIENT_ID_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._~-]{0,${CLIENT_LIMITS.clientId - 1}}$`);
export const SCOPE_RULE = `1-${CLIENT_LIMITS.scope} printable ASCII characters other than space, " and \\`;
/** RFC 6749 §3.3 scope-token. */
export const SCOPE_PATTERN = new RegExp(`^[\\x21\\x23-\\x5b\\x5d-\\x7e]{1,${CLIENT_LIMITS.scope}}$`);

export function validateClientId(id: string): void {
  if (!CLIENT_ID_PATTERN.test(id)) {
    throw new ValidationError(`"${String(id).slice(0, 60)}" is not a valid client id (${CLIENT_ID_RULE})`, 'clientId');
  }
}

function validateScopes(scopes: string[], field: string): void {
  if (!Array.isArray(scopes)) throw new ValidationError(`${field} must be a list of scopes`, field);
  if (scopes.length > CLIENT_LIMITS.scopes) throw new ValidationError(`at most ${CLIENT_LIMITS.scopes} scopes`, field);
  for (const s of scopes) {
    if (typeof s !== 'string' || !SCOPE_PATTERN.test(s))
      throw new ValidationError(`"${String(s).slice(0, 100)}" is not a valid scope (${SCOPE_RULE})`, field);
  }
}

/**
 * A client registered for sender-constrained tokens only (RFC 9449 §5.2 `dpop_bound_access_tokens`,
 * RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`) never holds a bearer token, and a
 * self-signed HS256 token is one: the two are refused together, naming the field the change set.
 * Checked when a create or update sets one of the three, so that a row from before can still be
 * disabled or renamed (the verifier refuses its self-signed tokens whatever the row says).
 */
export function validateBoundTokensOnly(
  client: Pick<Client, 'selfSignedAllowed' | 'dpopBoundAccessTokens' | 'tlsClientCertificateBoundAccessTokens'>,
  change: ClientPatch,
): void {
  if (
    change.selfSignedAllowed === undefined &&
    change.dpopBoundAccessTokens === undefined &&
    change.tlsClientCertificateBoundAccessTokens === undefined
  )
    return;
  if (!client.selfSignedAllowed) return;
  const bound = client.dpopBoundAccessTokens
    ? 'dpopBoundAccessTokens'
    : client.tlsClientCertificateBoundAccessTokens
      ? 'tlsClientCertificateBoundAccessTokens'
      : undefined;
  if (bound === undefined) return;
  const field = change[bound] === true ? bound : 'selfSignedAllowed';
  throw new ValidationError(
    `${field}: a client with ${bound} gets sender-constrained tokens only, and a self-signed token (selfSignedAllowed) is a bearer token: turn one of the two off`,
    field,
  );
}

/** Validates the fields present in a create or update; the caller merges with the stored client. */
export function validateClientFields(input: ClientPatch): void {
  if (input.rsin !== undefined) validateRsin(input.rsin);
  if (
    input.name !== undefined &&
    (typeof input.name !== 'string' || input.name.length > CLIENT_LIMITS.name || /[\u0000-\u001f]/.test(input.name))
  )
    throw new ValidationError(`name: at most ${CLIENT_LIMITS.name} characters, no control characters`, 'name');
  if (
    input.description !== undefined &&
    (typeof input.description !== 'string' || input.description.length > CLIENT_LIMITS.description)
  )
    throw new ValidationError(`description: at most ${CLIENT_LIMITS.description} characters`, 'description');
  if (input.grantTypes !== undefined) {
    if (!Array.isArray(input.grantTypes) || input.grantTypes.length > CLIENT_LIMITS.grantTypes)
      throw new ValidationError(`grantTypes: a list of at most ${CLIENT_LIMITS.grantTypes}`, 'grantTypes');
    for (const g of input.grantTypes)
      if (!(GRANT_TYPES as readonly string[]).includes(g))
        throw new ValidationError(`unsupported grant type "${String(g).slice(0, 50)}"`, 'grantTypes');
  }
  if (input.allowedScopes !== undefined) validateScopes(input.allowedScopes, 'allowedScopes');
  if (input.defaultScopes !== undefined) validateScopes(input.defaultScopes, 'defaultScopes');
  if (input.tokenLifetime !== undefined && input.tokenLifetime !== null) {
    if (
      !Number.isInteger(input.tokenLifetime) ||
      input.tokenLifetime < 1 ||
      input.tokenLifetime > CLIENT_LIMITS.tokenLifetime
    )
      throw new ValidationError(
        `tokenLifetime: whole seconds from 1 to ${CLIENT_LIMITS.tokenLifetime}`,
        'tokenLifetime',
      );
  }
  if (input.staticClaims !== undefined) {
    validateStaticClaims(input.staticClaims);
    if (Buffer.byteLength(JSON.stringify(input.staticClaims)) > CLIENT_LIMITS.staticClaimsBytes)
      throw new ValidationError(
        `staticClaims: at most ${CLIENT_LIMITS.staticClaimsBytes} bytes of JSON`,
        'staticClaims',
      );
  }
}

/** Only allowed names (see isAllowedStaticClaim), and the ZGW user claims as strings, as verifiers expect them. */
export function validateStaticClaims(claims: Record<string, unknown>): void {
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims))
    throw new ValidationError('staticClaims must be an object', 'staticClaims');
  const entries = Object.entries(claims);
  if (entries.length > CLIENT_LIMITS.staticClaims)
    throw new ValidationError(`staticClaims: at most ${CLIENT_LIMITS.staticClaims} claims`, 'staticClaims');
  for (const [name, value] of entries) {
    if (!isAllowedStaticClaim(name)) {
      throw new ValidationError(
        `staticClaims may not set "${name.slice(0, 60)}": allowed are ${STATIC_CLAIM_NAMES.join(', ')} and collision-resistant names (https://… or urn:…)`,
        'staticClaims',
      );
    }
    if (STATIC_CLAIM_NAMES.includes(name) && typeof value !== 'string')
      throw new ValidationError(`staticClaims.${name} must be a string`, 'staticClaims');
    // Signed into every token: no line breaks or escape sequences for a log or terminal downstream, whatever path wrote it.
    if (holdsControlCharacters(value))
      throw new ValidationError(
        `staticClaims.${name.slice(0, 60)} holds control characters or nests too deep`,
        'staticClaims',
      );
    validateClaimValueKeys(name, value);
  }
}

const PROTOTYPE_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/**
 * No `__proto__`, `constructor` or `prototype` key at any depth of a claim's value: resource
 * servers that deep-merge claims into objects would let such a token pollute their prototypes.
 * Walks without recursion, so a deeply nested value cannot exhaust the stack.
 */
export function validateClaimValueKeys(name: string, value: unknown): void {
  const pending: unknown[] = [value];
  while (pending.length) {
    const v = pending.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const item of v) pending.push(item);
      continue;
    }
    for (const [key, inner] of Object.entries(v)) {
      if (PROTOTYPE_KEYS.includes(key))
        throw new ValidationError(
          `staticClaims.${name.slice(0, 60)} holds the key "${key}", which is not accepted in claims`,
          'staticClaims',
        );
      pending.push(inner);
    }
  }
}

export function validateDefaultScopesAllowed(defaultScopes: string[], allowedScopes: string[]): void {
  const notAllowed = defaultScopes.filter((s) => !allowedScopes.includes(s));
  if (notAllowed.length)
    throw new ValidationError(
      `default scopes must be allowed scopes; not allowed: ${notAllowed.join(' ')}`,
      'defaultScopes',
    );
}

/** The label of a secret: bounded, no control characters. */
export function validateSecretLabel(label: string): void {
  if (typeof label !== 'string' || label.length > CLIENT_LIMITS.secretLabel || /[\u0000-\u001f]/.test(label))
    throw new ValidationError(`label: at most ${CLIENT_LIMITS.secretLabel} characters, no control characters`, 'label');
}

export const OIN_PATTERN = /^\d{20}$/;

/** A client's authentication fields: known methods (at least one, each once), a TLS subject of one known field, a 20-digit OIN. */
export function validateAuthFields(client: Pick<Client, 'authMethods' | 'tlsSubject' | 'oin' | 'jwksUri'>): void {
  const methods = client.authMethods;
  if (!Array.isArray(methods) || !methods.length || methods.length > CLIENT_AUTH_METHODS.length)
    throw new ValidationError(`authMethods: one or more of ${CLIENT_AUTH_METHODS.join(', ')}`, 'authMethods');
  for (const m of methods)
    if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(m))
      throw new ValidationError(`unknown authentication method "${String(m).slice(0, 40)}"`, 'authMethods');
  if (new Set(methods).size !== methods.length)
    throw new ValidationError('authMethods: each method once', 'authMethods');
  const subject = client.tlsSubject;
  if (
    subject !== null &&
    (typeof subject !== 'object' ||
      !(TLS_SUBJECT_FIELDS as readonly string[]).includes(subject.field) ||
      typeof subject.value !== 'string' ||
      !subject.value.length ||
      subject.value.length > 1024 ||
      holdsControlCharacters(subject.value))
  )
    throw new ValidationError(
      `tlsSubject: one of ${TLS_SUBJECT_FIELDS.join(', ')} with a value of 1-1024 characters`,
      'tlsSubject',
    );
  if (subject?.field === 'subject_dn') validateSubjectDn(subject.value);
  if (client.oin !== null && (typeof client.oin !== 'string' || !OIN_PATTERN.test(client.oin)))
    throw new ValidationError('oin: 20 digits', 'oin');
  if (client.jwksUri !== null && typeof client.jwksUri !== 'string')
    throw new ValidationError('jwksUri must be a URL', 'jwksUri');
}

/** A subject DN that parses as RFC 4514 and names something: an empty name would match any certificate without a subject. */
function validateSubjectDn(value: string): void {
  let rdns: ReturnType<typeof parseDn>;
  try {
    rdns = parseDn(value);
  } catch (err) {
    if (!(err instanceof DnSyntaxError)) throw err;
    throw new ValidationError(
      `tlsSubject: subject_dn is no RFC 4514 distinguished name (${err.message})`,
      'tlsSubject',
    );
  }
  if (rdns.length === 0)
    throw new ValidationError(
      'tlsSubject: subject_dn is empty; give the certificate subject, e.g. CN=...,O=...',
      'tlsSubject',
    );
}
