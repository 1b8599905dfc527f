import { isUtf8 } from 'node:buffer';
import type { AssertionCredentials, ClientCredentials, RefusedCredentials } from '../clients/authenticate-client.js';
import { assertionSubject, JWT_BEARER_ASSERTION_TYPE } from '../clients/client-assertion.js';
import { invalidClient, invalidRequest } from '../errors.js';
import { CONTROL_CHARACTERS } from '../control-characters.js';
import type { FormBody } from './form-body.js';
import type { PresentedCertificate } from '../pki/presented-certificate.js';

const MAX_CREDENTIAL_LENGTH = 1024;

export interface CredentialOptions {
  /**
   * Keycloak's paths: the same credentials both as HTTP Basic and in the body, as Keycloak tolerates
   * and keycloak-connect's validateAccessToken() sends them, are one authentication. Accepted only
   * when the body's secret is the Basic one exactly (as sent or form-decoded); it is then the one
   * secret checked.
   */
  identicalTwice?: boolean;
  /**
   * The client certificate of the request (TLS connection or trusted proxy), used only when neither
   * HTTP Basic nor client_secret is sent: a TLS client may present a certificate on every request.
   * A refused certificate header (say, from an address that is no trusted proxy) refuses the
   * request whatever else it carries: the caller wrote that header itself.
   */
  certificate?: () => PresentedCertificate | undefined;
}

/**
 * RFC 6749 §2.3.1: HTTP Basic with form-url-encoded id and secret (or sent raw, see rawSecret), or client_id + client_secret in
 * the body — exactly one of the two. A client_id in the body next to Basic is tolerated when equal.
 */
export function clientCredentials(
  authorization: string | undefined,
  body: FormBody,
  options: CredentialOptions = {},
): ClientCredentials {
  const bodyId = body.get('client_id');
  const bodySecret = body.get('client_secret');
  const assertionType = body.get('client_assertion_type');
  const assertion = body.get('client_assertion');
  const presented = options.certificate?.();
  const otherwise = assertionType ?? assertion ?? bodySecret ?? authorization;
  // Without other credentials the certificate path refuses it, naming the client's organisation.
  if (presented && !presented.ok && presented.source === 'header' && otherwise !== undefined)
    return refusedCredentials(authorization, bodyId, assertion, {
      reason: 'certificate_header_refused',
      detail: presented.detail,
    });
  if (assertionType !== undefined || assertion !== undefined) {
    if (bodySecret !== undefined || (authorization !== undefined && /^basic /i.test(authorization)))
      throw invalidRequest('client authenticated twice: use either a client assertion or a client secret, not both');
    return assertionCredentials(assertionType, assertion, bodyId);
  }
  if (authorization !== undefined && /^basic /i.test(authorization)) {
    const basic = parseBasic(authorization.slice(6).trim());
    // Both values come from the caller: comparing them tells it nothing it does not know.
    const once =
      bodySecret !== undefined &&
      options.identicalTwice &&
      (bodySecret === basic.secret || bodySecret === basic.rawSecret);
    if (bodySecret !== undefined && !once)
      throw invalidRequest('client authenticated twice: use either HTTP Basic or client_secret in the body, not both');
    if (bodyId !== undefined && bodyId !== basic.clientId)
      throw invalidRequest('client_id in the body differs from the one in HTTP Basic');
    return once
      ? { clientId: basic.clientId, secret: bodySecret, method: 'client_secret_basic' }
      : { ...basic, method: 'client_secret_basic' };
  }
  const certificate = bodySecret === undefined ? presented : undefined;
  if (certificate) {
    // RFC 8705 §2: the certificate says who may be the client; client_id says which client it claims to be.
    if (bodyId === undefined)
      return {
        clientId: '',
        refused: {
          reason: 'unknown_client',
          detail: 'client_id is required with a client certificate (RFC 8705 §2)',
          method: 'tls_client_auth',
        },
      };
    if (bodyId.length > MAX_CREDENTIAL_LENGTH) throw invalidClient();
    return { clientId: bodyId, certificate };
  }
  if (bodyId === undefined || bodySecret === undefined) {
    throw invalidClient('client authentication missing: send client_id and client_secret, or HTTP Basic');
  }
  if (bodyId.length > MAX_CREDENTIAL_LENGTH || bodySecret.length > MAX_CREDENTIAL_LENGTH) throw invalidClient();
  return { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' };
}

/**
 * RFC 7523 §2.2 and RFC 7521 §4.2: client_assertion_type jwt-bearer with one client_assertion. The
 * client is the optional client_id or else the assertion's subject; the authenticator then checks
 * that iss and sub both name it. An assertion too large or malformed to read still goes there,
 * so that its refusal is counted and audited like any other.
 */
function assertionCredentials(
  type: string | undefined,
  assertion: string | undefined,
  bodyId: string | undefined,
): AssertionCredentials | RefusedCredentials {
  const method = 'private_key_jwt';
  if (type !== JWT_BEARER_ASSERTION_TYPE)
    return refusedCredentials(undefined, bodyId, assertion, {
      reason: 'bad_assertion',
      detail: `client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`,
      method,
    });
  if (assertion === undefined)
    return refusedCredentials(undefined, bodyId, assertion, {
      reason: 'bad_assertion',
      detail: 'client_assertion is missing',
      method,
    });
  if (bodyId !== undefined && bodyId.length > MAX_CREDENTIAL_LENGTH) throw invalidClient();
  const clientId = bodyId ?? assertionSubject(assertion)?.slice(0, MAX_CREDENTIAL_LENGTH) ?? '';
  return { clientId, assertion, method };
}

/** A refusal under the client id the request claims: client_id, HTTP Basic's, or the assertion's subject. */
function refusedCredentials(
  authorization: string | undefined,
  bodyId: string | undefined,
  assertion: string | undefined,
  refused: RefusedCredentials['refused'],
): RefusedCredentials {
  let clientId = bodyId;
  if (clientId === undefined && authorization !== undefined && /^basic /i.test(authorization)) {
    try {
      clientId = parseBasic(authorization.slice(6).trim()).clientId;
    } catch {
      // Malformed Basic credentials name no client.
    }
  }
  clientId ??= assertion !== undefined ? assertionSubject(assertion) : undefined;
  return { clientId: (clientId ?? '').slice(0, MAX_CREDENTIAL_LENGTH), refused };
}

function parseBasic(encoded: string): { clientId: string; secret: string; rawSecret?: string } {
  if (encoded.length > 4 * MAX_CREDENTIAL_LENGTH || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw invalidRequest('malformed HTTP Basic credentials');
  }
  const decoded = decodeCredentialBytes(Buffer.from(encoded, 'base64'));
  const colon = decoded.indexOf(':');
  if (colon < 0) throw invalidRequest('malformed HTTP Basic credentials: no colon');
  const rawId = decoded.slice(0, colon);
  const raw = decoded.slice(colon + 1);
  const clientId = formDecode(rawId) ?? rawId;
  if (CONTROL_CHARACTERS.test(clientId + raw))
    throw invalidRequest('malformed HTTP Basic credentials: control characters');
  // Only `+` and `%` read differently once decoded: other secrets cost one check, as before.
  const formDecoded = /[+%]/.test(raw) ? formDecode(raw) : raw;
  // Invalid percent-encoding, or a control character that no registered secret holds: only the raw reading remains.
  if (formDecoded === undefined || CONTROL_CHARACTERS.test(formDecoded)) return { clientId, secret: raw };
  return formDecoded === raw ? { clientId, secret: raw } : { clientId, secret: formDecoded, rawSecret: raw };
}

/**
 * UTF-8, as curl and browsers send it; bytes that are not valid UTF-8 as Latin-1, as Python
 * requests, requests-oauthlib and authlib encode Basic credentials. Invalid UTF-8 is no UTF-8
 * encoding of any secret, so this is the same attempt read the one way it can mean something.
 */
function decodeCredentialBytes(bytes: Buffer): string {
  return bytes.toString(isUtf8(bytes) ? 'utf8' : 'latin1');
}

/** application/x-www-form-urlencoded decoding (RFC 6749 §2.3.1); undefined for invalid percent-encoding. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
