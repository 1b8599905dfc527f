import type { SecretRecord, StoredSecret } from './client-store.js';
import type { ClientRisk, SecretInfo } from './model.js';

/** How long a revoked or expired secret is still recognised as a former one (see ClientService.authenticate). */
export const FORMER_SECRET_MS = 30 * 86_400_000;

export function isLive(s: Pick<StoredSecret, 'revokedAt' | 'expiresAt'>, now: number): boolean {
  return s.revokedAt === null && (s.expiresAt === null || s.expiresAt > now);
}

/** Whether a client still answers for a secret as a former one at `now`: live, or revoked or expired within FORMER_SECRET_MS. */
export function isRecognised(s: Pick<StoredSecret, 'revokedAt' | 'expiresAt'>, now: number): boolean {
  const since = now - FORMER_SECRET_MS;
  return (s.revokedAt === null || s.revokedAt > since) && (s.expiresAt === null || s.expiresAt > since);
}

/** A weak secret is a risk while it can sign: live and sealed. */
export function secretRisks(
  secrets: Iterable<Pick<SecretRecord, 'weak' | 'sealed' | 'revokedAt' | 'expiresAt'>>,
  now: number,
): ClientRisk[] {
  for (const s of secrets) if (s.weak && s.sealed !== null && isLive(s, now)) return ['weak_secret'];
  return [];
}

/** What may be shown of a secret: never its hash or sealed copy. */
export function secretInfo(s: SecretRecord): SecretInfo {
  return {
    secretId: s.secretId,
    clientId: s.clientId,
    label: s.label,
    usableForSelfSigned: s.sealed !== null,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    lastUsedAt: s.lastUsedAt,
    revokedAt: s.revokedAt,
    weak: s.weak,
  };
}
