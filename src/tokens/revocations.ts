import type { ChangeFeed } from '../changes/change-feed.js';
import type { RevocationStore } from './revocation-store.js';

/** Kept past the token's expiry by a margin well beyond any verifier's clock-skew leeway. */
const KEEP_AFTER_EXPIRY_MS = 3_600_000;

/** RFC 7009 revocations of IdP tokens, kept by `jti` until the token would have expired anyway. */
export class Revocations {
  constructor(
    private readonly store: RevocationStore,
    private readonly changes: ChangeFeed,
    private readonly now: () => number = Date.now,
  ) {}

  async revoke(jti: string, clientId: string, expiresAtSeconds: number): Promise<void> {
    await this.store.add(jti, clientId, expiresAtSeconds * 1000);
    // Verifiers remember accepted tokens; this tells every process to forget them.
    await this.changes.publish({ kind: 'revocation', jti });
  }

  isRevoked(jti: string): Promise<boolean> {
    return this.store.has(jti);
  }

  async prune(): Promise<void> {
    await this.store.removeExpiredBefore(this.now() - KEEP_AFTER_EXPIRY_MS);
  }
}
