import { isAllowedStaticClaim, STATIC_CLAIM_NAMES } from '../clients/model.js';
import { validateClaimValueKeys } from '../clients/validate.js';
import { ValidationError } from '../errors.js';
import { asArray, asObject, asString, type JsonObject, optBoolean, optString, optStringMap } from './json-shape.js';
import { cleanText, MASKED_SECRET, type MigrationPlan, type PlanEntry, type PlannedSecret } from './migration-plan.js';

export interface KeycloakOptions {
  /** The organisation of clients without a hardcoded rsin mapper. */
  rsin?: string;
  /** Whether imported clients may sign their own HS256 tokens (OneGround's introspection plugin accepts them). */
  selfSigned: boolean;
  /** Epoch ms: secrets that expired before it are not imported. */
  now: number;
}

const MAX_CLIENTS = 10_000;
const MAX_MAPPERS = 1000;
const MAX_TEXT = 65_536;
const MAX_SECRET = 4096;
/** Keycloak's own clients in every realm; the master realm also has one `<realm>-realm` per realm. */
const BUILT_IN = ['account', 'account-console', 'admin-cli', 'broker', 'realm-management', 'security-admin-console'];
const HARDCODED_CLAIM = 'oidc-hardcoded-claim-mapper';
const ONE_YEAR = 31_536_000;

/**
 * A Keycloak realm export (`kc.sh export --realm R`, or the admin console's partial export) as a
 * migration plan: confidential service-account clients are imported with their secrets, the rest
 * skipped with the reason.
 */
export function parseKeycloakRealm(data: unknown, options: KeycloakOptions): MigrationPlan {
  if (Array.isArray(data)) {
    if (data.length !== 1)
      throw new ValidationError(`the file holds ${data.length} realms: export one realm (kc.sh export --realm NAME)`);
    data = data[0];
  }
  const realm = asObject(data, '$');
  const realmName = optString(realm, 'realm', '$', 255);
  if (realm.clients === undefined)
    throw new ValidationError(
      "$.clients: missing; a Keycloak realm export lists the realm's clients there (export with clients included)",
    );
  const clients = asArray(realm.clients, '$.clients', MAX_CLIENTS);
  const lifespan = realm.accessTokenLifespan;
  if (lifespan != null && !(Number.isInteger(lifespan) && (lifespan as number) >= 0))
    throw new ValidationError('$.accessTokenLifespan: expected whole seconds');
  const seen = new Set<string>();
  const entries = clients.map((c, i) => {
    const path = `$.clients[${i}]`;
    const entry = planClient(asObject(c, path), path, realmName, options);
    if (seen.has(entry.clientId))
      return {
        action: 'refuse',
        clientId: entry.clientId,
        reason: 'appears more than once in the file: only the first is imported',
      } as const;
    seen.add(entry.clientId);
    return entry;
  });
  return {
    source: 'keycloak',
    entries,
    notes: [],
    ...(typeof lifespan === 'number' && lifespan > 0 ? { realmTokenLifespan: lifespan } : {}),
  };
}

function planClient(c: JsonObject, path: string, realmName: string | undefined, options: KeycloakOptions): PlanEntry {
  const clientId = asString(c.clientId, `${path}.clientId`, 255);
  const enabled = optBoolean(c, 'enabled', path) ?? true;
  const publicClient = optBoolean(c, 'publicClient', path) ?? false;
  const bearerOnly = optBoolean(c, 'bearerOnly', path) ?? false;
  const serviceAccounts = optBoolean(c, 'serviceAccountsEnabled', path) ?? false;
  const protocol = optString(c, 'protocol', path, 100) ?? 'openid-connect';
  const authenticator = optString(c, 'clientAuthenticatorType', path, 100) ?? 'client-secret';
  const name = optString(c, 'name', path, MAX_TEXT);
  const description = optString(c, 'description', path, MAX_TEXT) ?? '';
  const secret = optString(c, 'secret', path, MAX_SECRET);
  const attributes = optStringMap(c, 'attributes', path, 1000, MAX_TEXT);
  const mappers = c.protocolMappers == null ? [] : asArray(c.protocolMappers, `${path}.protocolMappers`, MAX_MAPPERS);

  const skip = (reason: string): PlanEntry => ({ action: 'skip', clientId, reason });
  if (BUILT_IN.includes(clientId) || (realmName === 'master' && clientId.endsWith('-realm')))
    return skip("Keycloak's own client");
  if (protocol !== 'openid-connect') return skip(`${protocol.slice(0, 40)} client: not OAuth2`);
  if (bearerOnly) return skip('bearer-only: never asks for tokens');
  if (publicClient) return skip('public client: has no secret (a browser or app login)');
  if (!serviceAccounts)
    return skip(
      'service accounts off: does not use client credentials (a client that only introspects needs a zgw-auth client with scope zgw-auth:introspect)',
    );
  if (authenticator !== 'client-secret') {
    return {
      action: 'refuse',
      clientId,
      reason: `authenticates with ${authenticator.slice(0, 40)}, which zgw-auth does not accept: create the client and give the consumer a secret (HTTP Basic or client_secret)`,
    };
  }

  const attention: string[] = [];
  const notes: string[] = [];
  const claims = mapperClaims(mappers, path, attention, notes);
  if (claims.rsin === 'conflict')
    return {
      action: 'refuse',
      clientId,
      reason: 'two hardcoded rsin mappers with different values: keep one in Keycloak, or create the client by hand',
    };
  const rsin = claims.rsin ?? options.rsin;
  if (rsin === undefined)
    return {
      action: 'refuse',
      clientId,
      reason: 'no rsin: the client has no hardcoded-claim mapper for rsin; give its organisation with --rsin',
    };

  const secrets = planSecrets(secret, attributes, path, options.now, attention, notes);
  return {
    action: 'import',
    clientId,
    client: {
      name: cleanText(name && !/^\$\{.*\}$/.test(name) ? name : clientId, 200),
      description: cleanText(description, 2000),
      rsin,
      // Without its secret the client cannot authenticate anyway: disabled until one is added.
      enabled: enabled && secrets.length > 0,
      tokenLifetime: tokenLifetime(
        attributes['access.token.lifespan'],
        `${path}.attributes["access.token.lifespan"]`,
        attention,
      ),
      staticClaims: claims.staticClaims,
      selfSignedAllowed: options.selfSigned,
    },
    secrets,
    attention,
    notes,
  };
}

/** The client's secret, and Keycloak's rotated secondary one (client secret rotation) until it expires. */
function planSecrets(
  secret: string | undefined,
  attributes: Record<string, string>,
  path: string,
  now: number,
  attention: string[],
  notes: string[],
): PlannedSecret[] {
  const addIt = 'add its Keycloak secret (secrets add --import-stdin) and enable the client';
  if (secret === undefined || secret === '') {
    attention.push(`no secret in the file: imported disabled and without a secret; ${addIt}`);
    return [];
  }
  if (secret === MASKED_SECRET) {
    attention.push(
      `secret masked in the file ("${MASKED_SECRET}", as a partial export from the admin console gives it): imported disabled and without a secret; ${addIt}, or import a full export (kc.sh export)`,
    );
    return [];
  }
  const expires = epochMs(
    attributes['client.secret.expiration.time'],
    `${path}.attributes["client.secret.expiration.time"]`,
  );
  if (expires !== null && expires <= now) {
    attention.push(
      `secret expired in Keycloak at ${new Date(expires).toISOString()}: imported disabled and without a secret; give the consumer a new one`,
    );
    return [];
  }
  const secrets: PlannedSecret[] = [{ value: secret, label: 'keycloak', expiresAt: expires }];
  const rotated = attributes['client.secret.rotated'];
  if (rotated) {
    const rotatedExpires = epochMs(
      attributes['client.secret.rotated.expiration.time'],
      `${path}.attributes["client.secret.rotated.expiration.time"]`,
    );
    if (rotated === MASKED_SECRET)
      attention.push('rotated secondary secret masked in the file: not imported; consumers still sending it will fail');
    else if (rotatedExpires !== null && rotatedExpires <= now)
      notes.push(`rotated secondary secret expired at ${new Date(rotatedExpires).toISOString()}: not imported`);
    else if (rotated === secret) notes.push('rotated secondary secret equals the secret: imported once');
    else secrets.push({ value: rotated, label: 'keycloak rotated', expiresAt: rotatedExpires });
  }
  return secrets;
}

/**
 * rsin from the hardcoded-claim mapper (as OneGround's setup creates it); other hardcoded claims as
 * static claims where zgw-auth allows them; every other mapper named in a note.
 */
function mapperClaims(
  mappers: unknown[],
  path: string,
  attention: string[],
  notes: string[],
): { rsin: string | undefined | 'conflict'; staticClaims: Record<string, unknown> } {
  let rsin: string | undefined | 'conflict';
  const staticClaims: Record<string, unknown> = {};
  const other: string[] = [];
  mappers.forEach((m, j) => {
    const mPath = `${path}.protocolMappers[${j}]`;
    const mapper = asObject(m, mPath);
    const type = asString(mapper.protocolMapper, `${mPath}.protocolMapper`, 200);
    const mapperName = optString(mapper, 'name', mPath, 200) ?? type;
    const config = optStringMap(mapper, 'config', mPath, 100, MAX_TEXT);
    if (type !== HARDCODED_CLAIM) return void other.push(`"${cleanText(mapperName, 60)}" (${cleanText(type, 60)})`);
    const claim = config['claim.name'] ?? '';
    const value = config['claim.value'] ?? '';
    if (claim === 'rsin') {
      rsin = rsin === undefined || rsin === value ? value : 'conflict';
      return;
    }
    const shown = JSON.stringify(cleanText(claim, 60));
    if (config['access.token.claim'] === 'false')
      return void notes.push(`hardcoded claim ${shown} was not in Keycloak's access tokens: not carried over`);
    if (!isAllowedStaticClaim(claim)) {
      return void attention.push(
        `hardcoded claim ${shown} not carried over: tokens get only ${STATIC_CLAIM_NAMES.join(', ')} and collision-resistant names (https://…, urn:…) as static claims`,
      );
    }
    const typed = STATIC_CLAIM_NAMES.includes(claim) ? value : typedClaim(value, config['jsonType.label']);
    try {
      validateClaimValueKeys(claim, typed);
    } catch {
      return void attention.push(
        `hardcoded claim ${shown} not carried over: its JSON value holds a __proto__, constructor or prototype key, which tokens may not carry`,
      );
    }
    staticClaims[claim] = typed;
  });
  if (other.length) notes.push(`mappers not carried over (zgw-auth sets its own token claims): ${other.join(', ')}`);
  return { rsin, staticClaims };
}

/** A hardcoded claim's value as Keycloak would put it in the token, by its JSON type. */
function typedClaim(value: string, type: string | undefined): unknown {
  if ((type === 'long' || type === 'int') && /^-?\d{1,15}$/.test(value)) return Number(value);
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  if (type === 'JSON') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

/** Keycloak writes times as epoch seconds in strings; empty, zero or negative means none. */
function epochMs(value: string | undefined, path: string): number | null {
  if (value === undefined || value === '') return null;
  if (!/^-?\d{1,12}$/.test(value))
    throw new ValidationError(`${path}: expected epoch seconds, got ${JSON.stringify(value.slice(0, 40))}`);
  const seconds = Number(value);
  return seconds > 0 ? seconds * 1000 : null;
}

/** `access.token.lifespan` in seconds; empty or -1: the realm's (here: the server's) default. */
function tokenLifetime(value: string | undefined, path: string, attention: string[]): number | null {
  if (value === undefined || value === '') return null;
  if (!/^-?\d{1,12}$/.test(value))
    throw new ValidationError(`${path}: expected whole seconds, got ${JSON.stringify(value.slice(0, 40))}`);
  const seconds = Number(value);
  if (seconds <= 0) return null;
  if (seconds > ONE_YEAR) {
    attention.push(
      `access token lifespan ${seconds} s is more than a year: the server's token lifetime applies instead`,
    );
    return null;
  }
  return seconds;
}
