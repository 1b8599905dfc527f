import crypto from 'node:crypto';
import { sql } from 'kysely';
import { validateStaticClaims } from '../clients/validate.js';
import { crashPoint } from '../crash-point.js';
import { ValidationError } from '../errors.js';
import type { MasterKey } from '../keys/master-key.js';
import { validateOrganisationName, validateOrganisationRsin } from '../organisations/validate.js';
import { addMissingOrganisations } from './kysely-organisation-store.js';
import type { Storage } from './open-storage.js';
import type { Database } from './schema.js';

/**
 * A whole registry as one JSON document: rows as stored, so secrets stay hashed or sealed and
 * signing keys sealed under the master key. Importing needs the same master key, checked by a
 * fingerprint, so a mismatch is refused up front rather than discovered at the first token.
 */
export interface RegistryExport {
  format: 'zgw-auth-registry';
  version: 1;
  exportedAt: string;
  masterKeyFingerprint: string;
  tables: { [T in keyof Database]: unknown[] };
}

// Parents before children: secrets refer to clients.
const TABLES = ['signing_keys', 'organisations', 'clients', 'client_secrets', 'audit_events', 'revoked_tokens'] as const satisfies readonly (keyof Database)[];
const BATCH = 500;

export function masterKeyFingerprint(masterKey: MasterKey): string {
  return crypto.createHmac('sha256', masterKey.hashKey).update('zgw-auth registry export').digest('base64url').slice(0, 22);
}

export async function exportRegistry(storage: Storage, masterKey: MasterKey, now: number): Promise<RegistryExport> {
  const tables = {} as RegistryExport['tables'];
  for (const t of TABLES) tables[t] = await storage.db.selectFrom(t).selectAll().execute();
  return { format: 'zgw-auth-registry', version: 1, exportedAt: new Date(now).toISOString(), masterKeyFingerprint: masterKeyFingerprint(masterKey), tables };
}

/** Loads an export into an empty registry, in one transaction. Returns the row count per table. */
export async function importRegistry(storage: Storage, masterKey: MasterKey, data: RegistryExport, now: number = Date.now()): Promise<Record<string, number>> {
  if (data?.format !== 'zgw-auth-registry' || data.version !== 1) throw new ValidationError('not a zgw-auth registry export (format zgw-auth-registry, version 1)');
  if (data.masterKeyFingerprint !== masterKeyFingerprint(masterKey)) {
    throw new ValidationError('the export was made under a different master key: set ZGW_AUTH_MASTER_KEY to the key of the source installation');
  }
  for (const row of (data.tables.clients ?? []) as Array<{ client_id?: unknown; static_claims?: unknown }>) {
    // Static claims are held to today's rules, whatever the exporting version allowed.
    try {
      validateStaticClaims(JSON.parse(String(row.static_claims)) as Record<string, unknown>);
    } catch (err) {
      throw new ValidationError(`client "${String(row.client_id).slice(0, 60)}": ${err instanceof ValidationError ? err.message : 'static_claims is not a JSON object'}`);
    }
  }
  for (const row of (data.tables.organisations ?? []) as Array<{ rsin?: unknown; name?: unknown }>) {
    try {
      validateOrganisationRsin(row.rsin as string);
      validateOrganisationName(row.name as string);
    } catch (err) {
      throw new ValidationError(`organisation "${String(row.rsin).slice(0, 20)}": ${err instanceof ValidationError ? err.message : 'not an organisation'}`);
    }
  }
  const counts: Record<string, number> = {};
  await storage.db.transaction().execute(async (trx) => {
    for (const t of TABLES) {
      const existing = await trx
        .selectFrom(t)
        .select(sql<number>`count(*)`.as('n'))
        .executeTakeFirstOrThrow();
      if (Number(existing.n) > 0) throw new ValidationError(`the target registry is not empty (table ${t}); import into a new database`);
    }
    for (const t of TABLES) {
      const rows = (data.tables[t] ?? []) as Record<string, unknown>[];
      for (let i = 0; i < rows.length; i += BATCH)
        await trx
          .insertInto(t)
          .values(rows.slice(i, i + BATCH) as never)
          .execute();
      counts[t] = rows.length;
    }
    // As on migration: a client's RSIN without an organisation gets one (exports of earlier versions
    // hold none), audited as OrganisationService.ensure audits it.
    const ensured = await addMissingOrganisations(trx, now);
    // Explicit ids bypassed PostgreSQL's sequence; move it past them before any event is added.
    if (storage.dialect === 'postgres') await sql`SELECT setval(pg_get_serial_sequence('audit_events', 'id'), GREATEST((SELECT max(id) FROM audit_events), 1))`.execute(trx);
    if (ensured.length) {
      await trx
        .insertInto('audit_events')
        .values(
          ensured.map((o) => ({
            at: now,
            actor: 'system',
            action: 'organisation.created',
            target: o.rsin,
            address: null,
            reason: null,
            details: JSON.stringify({ after: o, ensured: true, imported: true }),
            organisation: o.rsin,
          })),
        )
        .execute();
    }
    crashPoint('import:rows-inserted');
  });
  crashPoint('import:committed');
  return counts;
}
