import { type Kysely, sql } from '#kysely';
import { ZgwAuthError } from '../errors.js';
import { createMasterKeyFile, type MasterKey, type MasterKeySource } from '../keys/master-key.js';
import type { Storage } from './open-storage.js';
import type { Database } from './schema.js';

/** A value sealed under the master key when the registry was first used with it: what a key is checked against. */
const CHECK_NAME = 'master_key_check';
const CHECK_CONTEXT = 'registry-state:master-key-check';
const CHECK_TEXT = 'zgw-auth master key check';

/** `empty`: nothing is sealed or hashed under any key yet; `verified`: a sealed value opened; `unverified`: only hashed secrets, nothing to open. */
export type RegistryLock = 'empty' | 'verified' | 'unverified';

type RegistryState = { registry_state: { name: string; value: string } };

// The check reads the registry before its migrations: a table may not exist yet, so plain SQL on the tables found.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type AnyDb = Kysely<any>;

/**
 * Checks the master key against the registry before anything is written with it, and returns the
 * key to use. A registry holding clients or signing keys needs its own key: without one, or with
 * one that does not open a sealed value of it, this refuses (a new key would seal new values the
 * old ones cannot be read with). Only an empty registry, a fresh install, may get a new key file.
 */
export async function unlockRegistry(
  storage: Storage,
  source: MasterKeySource,
  options: { newKey?: boolean } = {},
): Promise<{ key: MasterKey; lock: RegistryLock }> {
  const db = storage.db as AnyDb;
  const tables = new Set((await db.introspection.getTables()).map((t) => t.name));
  const has = async (table: string) =>
    tables.has(table) && (await sql`select 1 from ${sql.table(table)} limit 1`.execute(db)).rows.length > 0;
  const holdsData = (await has('signing_keys')) || (await has('clients')) || (await has('client_secrets'));
  if (!holdsData) {
    if (source.key) return { key: source.key, lock: 'empty' };
    if (options.newKey === false || !source.createFile) {
      throw new ZgwAuthError(
        'master_key_missing',
        `no master key: set ZGW_AUTH_MASTER_KEY or ZGW_AUTH_MASTER_KEY_FILE to the key of the installation the data comes from`,
      );
    }
    return { key: createMasterKeyFile(source.createFile), lock: 'empty' };
  }
  if (!source.key) {
    throw new ZgwAuthError(
      'master_key_missing',
      `the registry at ${storage.location} holds clients or signing keys, but there is no master key (${source.origin} does not exist): set ZGW_AUTH_MASTER_KEY or ZGW_AUTH_MASTER_KEY_FILE to this registry's key, or restore that file; a new key would not open it`,
    );
  }
  const sealed = await sealedSample(db, tables);
  if (!sealed) return { key: source.key, lock: 'unverified' };
  try {
    source.key.open(sealed.value, sealed.context);
  } catch (err) {
    throw mismatch(storage.location, source.origin, err);
  }
  return { key: source.key, lock: 'verified' };
}

/**
 * Records the check value once the registry is migrated: replaced while the registry is empty
 * (any key fits it), added when missing once a key is verified. A key that could not be verified
 * records nothing, so a wrong one is not made the reference.
 */
export async function recordMasterKeyCheck(storage: Storage, key: MasterKey, lock: RegistryLock): Promise<void> {
  if (lock === 'unverified') return;
  const db = (storage.db as Kysely<Database>).withTables<RegistryState>();
  const value = key.seal(CHECK_TEXT, CHECK_CONTEXT);
  if (lock === 'empty') {
    await db
      .insertInto('registry_state')
      .values({ name: CHECK_NAME, value })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value }))
      .execute();
    return;
  }
  await db
    .insertInto('registry_state')
    .values({ name: CHECK_NAME, value })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
}

/** The check value when there is one, else a signing key's private part, else a self-signing secret. */
async function sealedSample(db: AnyDb, tables: Set<string>): Promise<{ value: string; context: string } | undefined> {
  if (tables.has('registry_state')) {
    const row = await db.selectFrom('registry_state').select('value').where('name', '=', CHECK_NAME).executeTakeFirst();
    if (row) return { value: String(row.value), context: CHECK_CONTEXT };
  }
  const key = await db.selectFrom('signing_keys').select(['kid', 'private_key_sealed']).limit(1).executeTakeFirst();
  if (key) return { value: String(key.private_key_sealed), context: `signing-key:${String(key.kid)}` };
  const secret = await db
    .selectFrom('client_secrets')
    .select(['client_id', 'secret_id', 'sealed'])
    .where('sealed', 'is not', null)
    .limit(1)
    .executeTakeFirst();
  if (secret)
    return {
      value: String(secret.sealed),
      context: `client-secret:${String(secret.client_id)}:${String(secret.secret_id)}`,
    };
  return undefined;
}

function mismatch(location: string, origin: string, err: unknown): ZgwAuthError {
  const why = err instanceof ZgwAuthError ? err.message : 'sealed value does not open with this master key';
  return new ZgwAuthError(
    'master_key_mismatch',
    `the master key from ${origin} does not fit the registry at ${location}: ${why}`,
  );
}
