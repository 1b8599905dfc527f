import { checkPublicJwk } from '../clients/client-keys.js';
import type { ClientAuthMethod } from '../clients/model.js';
import { validateAuthFields, validateStaticClaims } from '../clients/validate.js';
import { crashPoint } from '../crash-point.js';
import { ValidationError } from '../errors.js';
import type { MasterKey } from '../keys/master-key.js';
import { validateOrganisationName, validateOrganisationRsin } from '../organisations/validate.js';
import {
  masterKeyFingerprint,
  type ParsedExport,
  parseRegistryExport,
  REGISTRY_TABLES,
  type RegistryExport,
} from './registry-export.js';
import type { RegistryTransferStore } from './registry-transfer-store.js';

export interface RegistryTransferDeps {
  store: RegistryTransferStore;
  masterKey: Pick<MasterKey, 'hashKey'>;
  now: () => number;
}

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
  checkRows(data);
  const now = deps.now();
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
    crashPoint('import:rows-inserted');
  });
  crashPoint('import:committed');
  return counts;
}

/** Rows are held to today's rules, whatever the exporting version allowed. */
function checkRows(data: ParsedExport): void {
  for (const row of data.tables.clients ?? []) {
    try {
      validateStaticClaims(JSON.parse(String(row.static_claims)) as Record<string, unknown>);
    } catch (err) {
      throw new ValidationError(
        `client "${String(row.client_id).slice(0, 60)}": ${err instanceof ValidationError ? err.message : 'static_claims is not a JSON object'}`,
      );
    }
  }
  for (const row of data.tables.clients ?? []) {
    if (row.auth_methods === undefined) continue;
    try {
      const methods = JSON.parse(String(row.auth_methods)) as unknown;
      if (!Array.isArray(methods)) throw new ValidationError('auth_methods is not a list');
      validateAuthFields({ authMethods: methods as ClientAuthMethod[], tlsSubject: null, oin: null, jwksUri: null });
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
