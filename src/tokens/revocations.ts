import type { Kysely } from 'kysely';
import type { ChangeFeed } from '../storage/change-feed.js';
import { prepareQuery } from '../storage/prepared.js';
import type { Database } from '../storage/schema.js';

/** RFC 7009 revocations of IdP tokens, kept by `jti` until the token would have expired anyway. */
export class Revocations {
  /** Asked for every IdP token the server verifies for the first time: compiled once. */
  private readonly selectRevoked;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly changes: ChangeFeed,
    private readonly now: () => number = Date.now,
  ) {
    this.selectRevoked = prepareQuery(db, (d) => d.selectFrom('revoked_tokens').select('jti').where('jti', '=', ''));
  }

  async revoke(jti: string, clientId: string, expiresAtSeconds: number): Promise<void> {
    const row = { jti, client_id: clientId, expires_at: expiresAtSeconds * 1000 };
    await this.db
      .insertInto('revoked_tokens')
      .values(row)
      .onConflict((oc) => oc.column('jti').doNothing())
      .execute();
    // Verifiers remember accepted tokens; this tells every process to forget them.
    await this.changes.publish({ kind: 'revocation', jti });
  }

  async isRevoked(jti: string): Promise<boolean> {
    return (await this.selectRevoked([jti])).rows.length > 0;
  }

  async prune(): Promise<void> {
    await this.db
      .deleteFrom('revoked_tokens')
      .where('expires_at', '<', this.now() - 3_600_000)
      .execute();
  }
}
