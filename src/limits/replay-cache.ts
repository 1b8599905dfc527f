import { sha256Base64url } from '@zgw-auth/verifier/internal';

/**
 * Identifiers that may be used once (a client assertion's `jti`, later DPoP proofs), across every
 * process that shares the registry. Only identifiers of verified signatures reach it, and each is
 * kept until its own expiry, which the caller bounds: the store holds at most rate × lifetime.
 */
export interface ReplayCache {
  /** True the first time `id` is used in `namespace` before `expiresAt` (epoch ms), false for a replay. */
  useOnce(namespace: string, id: string, expiresAt: number): Promise<boolean>;
}

/** A bounded key whatever the identifier's length or characters. */
export function replayKey(id: string): string {
  return sha256Base64url(id);
}

/** One process only: for unit tests and as the shape the shared caches follow. */
export class MemoryReplayCache implements ReplayCache {
  private readonly used = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async useOnce(namespace: string, id: string, expiresAt: number): Promise<boolean> {
    const t = this.now();
    const key = `${namespace}|${replayKey(id)}`;
    const until = this.used.get(key);
    if (until !== undefined && until > t) return false;
    if (this.used.size >= 100_000) for (const [k, v] of this.used) if (v <= t) this.used.delete(k);
    this.used.set(key, expiresAt);
    return true;
  }
}
