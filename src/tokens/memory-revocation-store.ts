import type { RevocationStore } from './revocation-store.js';

/** RevocationStore in memory, for unit tests: behaves like the SQL store (test/store-contract.test.ts). */
export class MemoryRevocationStore implements RevocationStore {
  private readonly revoked = new Map<string, { clientId: string; expiresAt: number }>();

  async add(jti: string, clientId: string, expiresAt: number): Promise<void> {
    if (!this.revoked.has(jti)) this.revoked.set(jti, { clientId, expiresAt });
  }

  async has(jti: string): Promise<boolean> {
    return this.revoked.has(jti);
  }

  async removeExpiredBefore(before: number): Promise<number> {
    let n = 0;
    for (const [jti, r] of this.revoked) if (r.expiresAt < before && this.revoked.delete(jti)) n++;
    return n;
  }
}
