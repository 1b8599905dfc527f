import type { Kysely } from 'kysely';
import type { SigningAlg } from '../config.js';
import type { PublicJwk } from '../keys/jwk.js';
import type { KeyStore, StoredKey } from '../keys/key-store.js';
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

  async rotate(next: StoredKey, retireOthersBy: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('signing_keys')
        .set({ retires_at: retireOthersBy })
        .where((eb) => eb.or([eb('retires_at', 'is', null), eb('retires_at', '>', retireOthersBy)]))
        .execute();
      await trx.insertInto('signing_keys').values(toRow(next)).execute();
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
    retires_at: k.retiresAt,
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
    retiresAt: r.retires_at,
  };
}
