/** Persistence of token revocations (RFC 7009), by `jti`. */
export interface RevocationStore {
  /** Records that token `jti` of `clientId` is revoked; `expiresAt` (epoch ms) is when it would have expired. A jti recorded before keeps its record. */
  add(jti: string, clientId: string, expiresAt: number): Promise<void>;
  has(jti: string): Promise<boolean>;
  /** Forgets revocations of tokens that expired before `before`; returns how many. */
  removeExpiredBefore(before: number): Promise<number>;
}
