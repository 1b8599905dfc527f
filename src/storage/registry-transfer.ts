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

/** A column value as an export holds it: rows as stored hold only these. */
type Cell = string | number | boolean | null;
/** An export as read from a file, its rows checked to be flat records of known tables. */
export interface ParsedExport {
  masterKeyFingerprint: string;
  tables: Partial<Record<(typeof TABLES)[number], Array<Record<string, Cell>>>>;
}

const COLUMN = /^[a-z][a-z0-9_]{0,62}$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads an export file's JSON as untrusted input: the format and version, the fingerprint, and
 * tables of this version only, each an array of flat rows with plain column names and values.
 */
export function parseRegistryExport(value: unknown): ParsedExport {
  if (!isRecord(value) || value.format !== 'zgw-auth-registry' || value.version !== 1) {
    throw new ValidationError('not a zgw-auth registry export (format zgw-auth-registry, version 1)');
  }
  if (typeof value.masterKeyFingerprint !== 'string')
    throw new ValidationError('the export names no master key fingerprint');
  if (!isRecord(value.tables)) throw new ValidationError('the export holds no tables');
  const tables: ParsedExport['tables'] = {};
  for (const [name, rows] of Object.entries(value.tables)) {
    const table = TABLES.find((t) => t === name);
    if (!table) throw new ValidationError(`the export holds a table this version does not know: ${name.slice(0, 40)}`);
    if (!Array.isArray(rows)) throw new ValidationError(`table ${table}: not a list of rows`);
    tables[table] = rows.map((row: unknown, i) => {
      if (!isRecord(row)) throw new ValidationError(`table ${table}, row ${i + 1}: not a row`);
      for (const [column, cell] of Object.entries(row)) {
        if (!COLUMN.test(column))
          throw new ValidationError(`table ${table}, row ${i + 1}: not a column name: ${column.slice(0, 40)}`);
        if (cell !== null && !['string', 'number', 'boolean'].includes(typeof cell))
          throw new ValidationError(`table ${table}, row ${i + 1}: column ${column} holds no plain value`);
      }
      return row as Record<string, Cell>;
    });
  }
  return { masterKeyFingerprint: value.masterKeyFingerprint, tables };
}

// Parents before children: secrets refer to clients.
const TABLES = [
  'signing_keys',
  'organisations',
  'clients',
  'client_secrets',
  'audit_events',
  'revoked_tokens',
] as const satisfies readonly (keyof Database)[];
const BATCH = 500;

export function masterKeyFingerprint(masterKey: MasterKey): string {
  return crypto
    .createHmac('sha256', masterKey.hashKey)
    .update('zgw-auth registry export')
    .digest('base64url')
    .slice(0, 22);
}

export async function exportRegistry(storage: Storage, masterKey: MasterKey, now: number): Promise<RegistryExport> {
  const tables = {} as RegistryExport['tables'];
  for (const t of TABLES) tables[t] = await storage.db.selectFrom(t).selectAll().execute();
  return {
    format: 'zgw-auth-registry',
    version: 1,
    exportedAt: new Date(now).toISOString(),
    masterKeyFingerprint: masterKeyFingerprint(masterKey),
    tables,
  };
}

/** Loads an export into an empty registry, in one transaction. Returns the row count per table. */
export async function importRegistry(
  storage: Storage,
  masterKey: MasterKey,
  file: unknown,
  now: number = Date.now(),
): Promise<Record<string, number>> {
  const data = parseRegistryExport(file);
  if (data.masterKeyFingerprint !== masterKeyFingerprint(masterKey)) {
    throw new ValidationError(
      'the export was made under a different master key: set ZGW_AUTH_MASTER_KEY to the key of the source installation',
    );
  }
  for (const row of data.tables.clients ?? []) {
    // Static claims are held to today's rules, whatever the exporting version allowed.
    try {
      validateStaticClaims(JSON.parse(String(row.static_claims)) as Record<string, unknown>);
    } catch (err) {
      throw new ValidationError(
        `client "${String(row.client_id).slice(0, 60)}": ${err instanceof ValidationError ? err.message : 'static_claims is not a JSON object'}`,
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
  const counts: Record<string, number> = {};
  await storage.db.transaction().execute(async (trx) => {
    for (const t of TABLES) {
      const existing = await trx
        .selectFrom(t)
        .select(sql<number>`count(*)`.as('n'))
        .executeTakeFirstOrThrow();
      if (Number(existing.n) > 0)
        throw new ValidationError(`the target registry is not empty (table ${t}); import into a new database`);
    }
    // Columns this database does not have are refused by name, not by a driver error.
    const columns = new Map(
      (await trx.introspection.getTables()).map((t) => [t.name, new Set(t.columns.map((c) => c.name))]),
    );
    for (const t of TABLES)
      for (const row of data.tables[t] ?? [])
        for (const column of Object.keys(row))
          if (!columns.get(t)?.has(column))
            throw new ValidationError(`table ${t}: no column ${column} in this version`);
    for (const t of TABLES) {
      const rows = data.tables[t] ?? [];
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
    if (storage.dialect === 'postgres')
      await sql`SELECT setval(pg_get_serial_sequence('audit_events', 'id'), GREATEST((SELECT max(id) FROM audit_events), 1))`.execute(
        trx,
      );
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
