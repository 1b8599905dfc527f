import type { ClientCredentials } from '../clients/authenticate-client.js';
import { invalidClient, invalidRequest } from '../errors.js';
import { CONTROL_CHARACTERS } from '../control-characters.js';
import type { FormBody } from './form-body.js';

const MAX_CREDENTIAL_LENGTH = 1024;

/**
 * RFC 6749 §2.3.1: HTTP Basic with form-url-encoded id and secret (or sent raw, see rawSecret), or client_id + client_secret in
 * the body — exactly one of the two. A client_id in the body next to Basic is tolerated when equal.
 */
export function clientCredentials(authorization: string | undefined, body: FormBody): ClientCredentials {
  const bodyId = body.get('client_id');
  const bodySecret = body.get('client_secret');
  if (authorization !== undefined && /^basic /i.test(authorization)) {
    const basic = parseBasic(authorization.slice(6).trim());
    if (bodySecret !== undefined) throw invalidRequest('client authenticated twice: use either HTTP Basic or client_secret in the body, not both');
    if (bodyId !== undefined && bodyId !== basic.clientId) throw invalidRequest('client_id in the body differs from the one in HTTP Basic');
    return { ...basic, method: 'client_secret_basic' };
  }
  if (bodyId === undefined || bodySecret === undefined) {
    throw invalidClient('client authentication missing: send client_id and client_secret, or HTTP Basic');
  }
  if (bodyId.length > MAX_CREDENTIAL_LENGTH || bodySecret.length > MAX_CREDENTIAL_LENGTH) throw invalidClient();
  return { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' };
}

function parseBasic(encoded: string): { clientId: string; secret: string; rawSecret?: string } {
  if (encoded.length > 4 * MAX_CREDENTIAL_LENGTH || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw invalidRequest('malformed HTTP Basic credentials');
  }
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw invalidRequest('malformed HTTP Basic credentials: no colon');
  const rawId = decoded.slice(0, colon);
  const raw = decoded.slice(colon + 1);
  const clientId = formDecode(rawId) ?? rawId;
  if (CONTROL_CHARACTERS.test(clientId + raw)) throw invalidRequest('malformed HTTP Basic credentials: control characters');
  // Only `+` and `%` read differently once decoded: other secrets cost one check, as before.
  const formDecoded = /[+%]/.test(raw) ? formDecode(raw) : raw;
  // Invalid percent-encoding, or a control character that no registered secret holds: only the raw reading remains.
  if (formDecoded === undefined || CONTROL_CHARACTERS.test(formDecoded)) return { clientId, secret: raw };
  return formDecoded === raw ? { clientId, secret: raw } : { clientId, secret: formDecoded, rawSecret: raw };
}

/** application/x-www-form-urlencoded decoding (RFC 6749 §2.3.1); undefined for invalid percent-encoding. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
