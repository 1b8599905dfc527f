import type { Kysely } from '#kysely';
import type { RevocationStore } from '../tokens/revocation-store.js';
import { prepareQuery } from './prepared.js';
import type { Database } from './schema.js';

/** RevocationStore on SQLite or PostgreSQL. */
export class KyselyRevocationStore implements RevocationStore {
  /** Asked for every IdP token the server verifies for the first time: compiled once. */
  private readonly selectRevoked;

  constructor(private readonly db: Kysely<Database>) {
    this.selectRevoked = prepareQuery(db, (d) => d.selectFrom('revoked_tokens').select('jti').where('jti', '=', ''));
  }

  async add(jti: string, clientId: string, expiresAt: number): Promise<void> {
    await this.db
      .insertInto('revoked_tokens')
      .values({ jti, client_id: clientId, expires_at: expiresAt })
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
  }

  async has(jti: string): Promise<boolean> {
    return (await this.selectRevoked([jti])).rows.length > 0;
  }

  async removeExpiredBefore(before: number): Promise<number> {
    const result = await this.db.deleteFrom('revoked_tokens').where('expires_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
