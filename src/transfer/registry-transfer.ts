import { isDeepStrictEqual } from 'node:util';
import { BOOTSTRAP_MARK } from '../autorisaties/autorisaties-service.js';
import { checkAutorisatiesXor, parseApplicatie } from '../autorisaties/validate.js';
import { checkPublicJwk } from '../clients/client-keys.js';
import { keyCertificateRefusal } from '../clients/key-certificate.js';
import { type ClientAuthMethod, type PublicJwk, usesSecrets } from '../clients/model.js';
import { validateAuthFields, validateStaticClaims } from '../clients/validate.js';
import { crashPoint } from '../crash-point.js';
import { InvalidParamsError, ValidationError } from '../errors.js';
import type { MasterKey } from '../keys/master-key.js';
import { validateOrganisationName, validateOrganisationRsin } from '../organisations/validate.js';
import {
  masterKeyFingerprint,
  type ParsedExport,
  parseRegistryExport,
  REGISTRY_TABLES,
  type RegistryExport,
} from './registry-export.js';
import type { TrustStore } from '../pki/trust-store.js';
import type { RegistryTransferStore } from './registry-transfer-store.js';

export interface RegistryTransferDeps {
  store: RegistryTransferStore;
  masterKey: Pick<MasterKey, 'hashKey'>;
  now: () => number;
  /** The fetch policy an imported jwks_uri must pass, as at registration (ZGW_AUTH_JWKS_URI_ALLOW). */
  jwksUri?: { validate(uri: string): void };
  /** Trust anchors an imported key's x5c chain must validate to, as at registration (ZGW_AUTH_TLS_CLIENT_CA). */
  trust?: TrustStore;
}

/** Why an imported live secret of a client without a secret method is revoked (as migration 0012 says it). */
const NO_SECRET_METHOD = 'the client authenticates without a secret (no client_secret_* method)';

/** The whole registry as an export document (see RegistryExport). */
export async function exportRegistry(deps: RegistryTransferDeps): Promise<RegistryExport> {
  const tables = {} as RegistryExport['tables'];
  for (const t of REGISTRY_TABLES) tables[t] = await deps.store.rows(t);
  return {
    format: 'zgw-auth-registry',
    version: 1,
    exportedAt: new Date(deps.now()).toISOString(),
    masterKeyFingerprint: masterKeyFingerprint(deps.masterKey),
    tables,
  };
}

/**
 * Loads an export (a file's JSON, untrusted) into an empty registry, in one transaction. Returns
 * the row count per table.
 */
export async function importRegistry(deps: RegistryTransferDeps, file: unknown): Promise<Record<string, number>> {
  const data = parseRegistryExport(file);
  if (data.masterKeyFingerprint !== masterKeyFingerprint(deps.masterKey)) {
    throw new ValidationError(
      'the export was made under a different master key: set ZGW_AUTH_MASTER_KEY to the key of the source installation',
    );
  }
  const now = deps.now();
  checkRows(data, deps, now);
  const revoked = revokeUnusableSecrets(data, now);
  const counts: Record<string, number> = {};
  await deps.store.transaction(async (registry) => {
    for (const t of REGISTRY_TABLES) {
      if ((await registry.rowCount(t)) > 0)
        throw new ValidationError(`the target registry is not empty (table ${t}); import into a new database`);
    }
    // Columns this database does not have are refused by name, not by a driver error.
    const columns = await registry.columns();
    for (const t of REGISTRY_TABLES)
      for (const row of data.tables[t] ?? [])
        for (const column of Object.keys(row))
          if (!columns.get(t)?.has(column))
            throw new ValidationError(`table ${t}: no column ${column} in this version`);
    for (const t of REGISTRY_TABLES) {
      const rows = data.tables[t] ?? [];
      await registry.insert(t, rows);
      counts[t] = rows.length;
    }
    // As on migration: a client's RSIN without an organisation gets one (exports of earlier versions
    // hold none), audited as OrganisationService.ensure audits it.
    const ensured = await registry.addMissingOrganisations(now);
    if (ensured.length) {
      await registry.appendAudit(
        ensured.map((o) => ({
          at: now,
          actor: 'system',
          action: 'organisation.created',
          target: o.rsin,
          address: null,
          reason: null,
          details: { after: o, ensured: true, imported: true },
          organisation: o.rsin,
        })),
      );
    }
    // As on migration 0012: a live secret of a client without a secret method is revoked, so that
    // adding a secret method later never brings it back unseen; audited as done by the system.
    if (revoked.length)
      await registry.appendAudit(
        revoked.map((r) => ({
          at: now,
          actor: 'system',
          action: 'secret.revoked',
          target: r.clientId,
          address: null,
          reason: null,
          details: { secretId: r.secretId, why: NO_SECRET_METHOD, imported: true },
          organisation: r.rsin,
        })),
      );
    // An export of a version with the Autorisaties API holds its applicaties as the operator left
    // them: the first administrator's applicatie is not granted again on the next start.
    if (data.tables.applicaties !== undefined) await registry.markDone(BOOTSTRAP_MARK);
    crashPoint('import:rows-inserted');
  });
  crashPoint('import:committed');
  return counts;
}

/**
 * The methods of a client row: an export of a version before authentication methods holds none,
 * and its clients authenticate with secrets (migration 0008's default).
 */
function methodsOf(row: Record<string, unknown>): ClientAuthMethod[] {
  if (row.auth_methods === undefined || row.auth_methods === null) return ['client_secret_basic', 'client_secret_post'];
  const methods = JSON.parse(String(row.auth_methods)) as unknown;
  if (!Array.isArray(methods)) throw new ValidationError('auth_methods is not a list');
  return methods as ClientAuthMethod[];
}

/** Rows are held to today's rules, whatever the exporting version allowed. */
function checkRows(data: ParsedExport, deps: RegistryTransferDeps, now: number): void {
  for (const row of data.tables.clients ?? []) {
    try {
      validateStaticClaims(JSON.parse(String(row.static_claims)) as Record<string, unknown>);
    } catch (err) {
      throw new ValidationError(
        `client "${String(row.client_id).slice(0, 60)}": ${err instanceof ValidationError ? err.message : 'static_claims is not a JSON object'}`,
      );
    }
  }
  const keysOf = new Map<unknown, Record<string, unknown>[]>();
  for (const row of data.tables.client_keys ?? [])
    keysOf.set(row.client_id, [...(keysOf.get(row.client_id) ?? []), row]);
  // The authentication fields as the registry checks them at registration (ClientService).
  for (const row of data.tables.clients ?? []) {
    try {
      const field = row.tls_subject_field ?? null;
      const value = row.tls_subject_value ?? null;
      if ((field === null) !== (value === null))
        throw new ValidationError('tls_subject_field and tls_subject_value: both or neither');
      const client = {
        authMethods: methodsOf(row),
        tlsSubject: field === null ? null : ({ field, value } as never),
        oin: (row.oin ?? null) as string | null,
        jwksUri: (row.jwks_uri ?? null) as string | null,
      };
      validateAuthFields(client);
      const keys = keysOf.get(row.client_id) ?? [];
      if (client.jwksUri !== null) {
        deps.jwksUri?.validate(client.jwksUri);
        if (keys.length) throw new ValidationError('a client has registered keys or a jwks_uri, not both');
      }
      // An OIN is proved by each key's certificate, as ClientService.addKeys and update require.
      for (const k of keys) {
        let jwk: PublicJwk;
        try {
          jwk = JSON.parse(String(k.public_jwk)) as PublicJwk;
        } catch {
          continue; // refused below with the key's name
        }
        const refusal = keyCertificateRefusal(jwk, client, deps.trust, now);
        if (refusal) throw new ValidationError(`key "${String(k.kid).slice(0, 60)}": ${refusal.detail}`);
      }
    } catch (err) {
      throw new ValidationError(
        `client "${String(row.client_id).slice(0, 60)}": ${err instanceof ValidationError ? err.message : 'auth_methods is not a JSON list'}`,
      );
    }
  }
  // A public key only: a file that slipped private key material in is refused.
  for (const row of data.tables.client_keys ?? []) {
    try {
      checkPublicJwk(JSON.parse(String(row.public_jwk)));
    } catch (err) {
      throw new ValidationError(
        `key "${String(row.kid).slice(0, 60)}" of client "${String(row.client_id).slice(0, 60)}": ${err instanceof ValidationError ? err.message : 'public_jwk is not a JWK'}`,
      );
    }
  }
  checkApplicaties(data);
  for (const row of data.tables.organisations ?? []) {
    try {
      validateOrganisationRsin(String(row.rsin));
      validateOrganisationName(String(row.name));
    } catch (err) {
      throw new ValidationError(
        `organisation "${String(row.rsin).slice(0, 20)}": ${err instanceof ValidationError ? err.message : 'not an organisation'}`,
      );
    }
  }
}

/**
 * Marks the live secrets of clients without a secret method revoked at `now`, in the rows to be
 * inserted; the ones it revoked.
 */
function revokeUnusableSecrets(
  data: ParsedExport,
  now: number,
): { secretId: string; clientId: string; rsin: string }[] {
  const keyOnly = new Map<unknown, string>();
  for (const row of data.tables.clients ?? [])
    if (!usesSecrets({ authMethods: methodsOf(row) })) keyOnly.set(row.client_id, String(row.rsin));
  const revoked: { secretId: string; clientId: string; rsin: string }[] = [];
  const secrets = data.tables.client_secrets;
  if (!secrets) return revoked;
  data.tables.client_secrets = secrets.map((row) => {
    // unusable-imported-secrets
    if (!keyOnly.has(row.client_id) || (row.revoked_at !== null && row.revoked_at !== undefined)) return row;
    revoked.push({
      secretId: String(row.secret_id),
      clientId: String(row.client_id),
      rsin: keyOnly.get(row.client_id)!,
    });
    return { ...row, revoked_at: now };
  });
  return revoked;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Applicaties are held to the Autorisaties API's own checks (the same validate.ts): the standard's
 * rules on each applicatie as its rows describe it, stored exactly as the API would store it; its
 * client ids clients of the export, each in one applicatie, all of the organisation it belongs to.
 */
function checkApplicaties(data: ParsedExport): void {
  const clientRsin = new Map((data.tables.clients ?? []).map((c) => [String(c.client_id), String(c.rsin)]));
  const members = new Map<string, { clientId: string; position: number }[]>();
  const seen = new Set<string>();
  const applicaties = new Set((data.tables.applicaties ?? []).map((a) => String(a.uuid)));
  for (const row of data.tables.applicatie_clients ?? []) {
    const clientId = String(row.client_id);
    const uuid = String(row.applicatie_uuid);
    const name = `applicatie client "${clientId.slice(0, 60)}"`;
    if (!clientRsin.has(clientId)) throw new ValidationError(`${name}: not a client of the export (clientId-unknown)`);
    if (seen.has(clientId)) throw new ValidationError(`${name}: in more than one applicatie (clientId-exists)`);
    if (!applicaties.has(uuid)) throw new ValidationError(`${name}: its applicatie is not in the export`);
    if (typeof row.position !== 'number' || !Number.isInteger(row.position))
      throw new ValidationError(`${name}: position is not a whole number`);
    seen.add(clientId);
    members.set(uuid, [...(members.get(uuid) ?? []), { clientId, position: row.position }]);
  }
  for (const row of data.tables.applicaties ?? []) {
    const uuid = String(row.uuid);
    const name = `applicatie "${uuid.slice(0, 40)}"`;
    try {
      if (!UUID.test(uuid)) throw new ValidationError('uuid is not a lowercase UUID');
      const flag = (column: string) => {
        if (row[column] !== 0 && row[column] !== 1) throw new ValidationError(`${column} is not 0 or 1`);
        return row[column] === 1;
      };
      let autorisaties: unknown;
      try {
        autorisaties = JSON.parse(String(row.autorisaties));
      } catch {
        throw new ValidationError('autorisaties is not JSON');
      }
      const clientIds = (members.get(uuid) ?? []).sort((a, b) => a.position - b.position).map((m) => m.clientId);
      const fields = parseApplicatie(
        {
          clientIds,
          label: row.label,
          heeftAlleAutorisaties: flag('heeft_alle_autorisaties'),
          alleenIsGereedVoorPublicatie: flag('alleen_is_gereed_voor_publicatie'),
          autorisaties,
        },
        true,
      );
      checkAutorisatiesXor({
        heeftAlleAutorisaties: fields.heeftAlleAutorisaties!,
        autorisaties: fields.autorisaties!,
      });
      // Fields the API does not keep (of another component, unknown ones) are not slipped in.
      if (!isDeepStrictEqual(fields.autorisaties, autorisaties))
        throw new ValidationError('autorisaties hold fields the Autorisaties API does not keep');
      const organisations = new Set(clientIds.map((id) => clientRsin.get(id)));
      if (organisations.size > 1)
        throw new ValidationError('its clients are of more than one organisation (clientIds-multiple-organisations)');
      const organisation = String(row.organisation);
      if (organisations.size === 1 ? !organisations.has(organisation) : !validRsin(organisation))
        throw new ValidationError(`organisation ${organisation.slice(0, 20)} is not that of its clients`);
    } catch (err) {
      const why =
        err instanceof InvalidParamsError
          ? err.invalidParams.map((p) => `${p.name} [${p.code}]: ${p.reason}`).join('; ')
          : err instanceof ValidationError
            ? err.message
            : 'not an applicatie';
      throw new ValidationError(`${name}: ${why}`);
    }
  }
}

function validRsin(rsin: string): boolean {
  try {
    validateOrganisationRsin(rsin);
    return true;
  } catch {
    return false;
  }
}
