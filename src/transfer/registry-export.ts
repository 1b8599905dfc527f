import crypto from 'node:crypto';
import { ValidationError } from '../errors.js';
import type { MasterKey } from '../keys/master-key.js';

/**
 * The registry's tables, parents before children: secrets, keys and applicatie_clients refer to
 * clients, applicatie_clients to applicaties.
 */
export const REGISTRY_TABLES = [
  'signing_keys',
  'organisations',
  'clients',
  'client_secrets',
  'client_keys',
  'applicaties',
  'applicatie_clients',
  'audit_events',
  'revoked_tokens',
  'used_once',
] as const;
export type RegistryTable = (typeof REGISTRY_TABLES)[number];

/** A column value as an export holds it: rows as stored hold only these. */
export type Cell = string | number | boolean | null;
/** A row as stored: column name to value. */
export type Row = Record<string, Cell>;

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
  tables: Record<RegistryTable, Row[]>;
}

/** An export as read from a file, its rows checked to be flat records of known tables. */
export interface ParsedExport {
  masterKeyFingerprint: string;
  tables: Partial<Record<RegistryTable, Row[]>>;
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
    const table = REGISTRY_TABLES.find((t) => t === name);
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
      return row as Row;
    });
  }
  return { masterKeyFingerprint: value.masterKeyFingerprint, tables };
}

/** Names the master key an export was made under without revealing it: an HMAC under its hash key. */
export function masterKeyFingerprint(masterKey: Pick<MasterKey, 'hashKey'>): string {
  return crypto
    .createHmac('sha256', masterKey.hashKey)
    .update('zgw-auth registry export')
    .digest('base64url')
    .slice(0, 22);
}
