import type { Kysely } from '#kysely';
import type { SigningAlg } from '../config.js';
import type { PublicJwk } from '../keys/jwk.js';
import { type KeyStore, type StoredKey, supersededBy } from '../keys/key-store.js';
import type { Database, SigningKeyRow } from './schema.js';

/** KeyStore on SQLite or PostgreSQL. */
export class KyselyKeyStore implements KeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async list(): Promise<StoredKey[]> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('activates_at', 'asc').execute();
    return rows.map(toKey);
  }

  async insert(key: StoredKey): Promise<void> {
    await this.db.insertInto('signing_keys').values(toRow(key)).execute();
  }

  async rotate(next: StoredKey, at: number): Promise<string[]> {
    return this.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('signing_keys')
        .selectAll()
        .where('superseded_at', 'is', null)
        .where('activates_at', '>', at)
        .execute();
      const superseded = rows
        .map(toKey)
        .filter((k) => supersededBy(k, next, at))
        .map((k) => k.kid);
      if (superseded.length) {
        // retires_at too: versions before the derived key plan retire by that column alone.
        await trx
          .updateTable('signing_keys')
          .set({ superseded_at: at, retires_at: at })
          .where('kid', 'in', superseded)
          .execute();
      }
      await trx.insertInto('signing_keys').values(toRow(next)).execute();
      return superseded;
    });
  }
}

function toRow(k: StoredKey): SigningKeyRow {
  return {
    kid: k.kid,
    alg: k.alg,
    public_jwk: JSON.stringify(k.publicJwk),
    private_key_sealed: k.privateKeySealed,
    created_at: k.createdAt,
    activates_at: k.activatesAt,
    // Not read any more (the plan is derived); written for versions before it, which retire by it.
    retires_at: k.supersededAt,
    superseded_at: k.supersededAt,
  };
}

function toKey(r: SigningKeyRow): StoredKey {
  return {
    kid: r.kid,
    // Written only from SigningAlg values (toRow).
    alg: r.alg as SigningAlg,
    publicJwk: JSON.parse(r.public_jwk) as PublicJwk,
    privateKeySealed: r.private_key_sealed,
    createdAt: r.created_at,
    activatesAt: r.activates_at,
    supersededAt: r.superseded_at,
  };
}
