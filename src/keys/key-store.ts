import type { SigningAlg } from '../config.js';
import type { PublicJwk } from './jwk.js';

/**
 * A signing key as the registry keeps it: the private key only sealed under the master key, and
 * only facts, never a planned retirement: the plan (key-plan.ts) is derived from these.
 */
export interface StoredKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: PublicJwk;
  /** The PKCS#8 PEM private key, sealed under the master key with context `signing-key:<kid>`. */
  privateKeySealed: string;
  createdAt: number;
  /** The key signs from this moment on, until the next key's activation; before it, it is only published. */
  activatesAt: number;
  /** Set when a newer key was rotated in to sign before this one's activation: it never signs. */
  supersededAt: number | null;
}

/** Persistence of the signing keys, in domain terms. */
export interface KeyStore {
  /** Every stored key, retired ones too, earliest activation first. */
  list(): Promise<StoredKey[]>;
  /** Rejects when the kid is taken. */
  insert(key: StoredKey): Promise<void>;
  /**
   * In one transaction: every key not yet superseded that is still pending at `at` and would
   * activate no earlier than `next` is superseded at `at`, then `next` is stored. Returns the kids
   * superseded. Rejects, changing nothing, when the kid of `next` is taken.
   */
  rotate(next: StoredKey, at: number): Promise<string[]>;
}

/** Whether a rotation at `at` to `next` supersedes `k`: a key that has not signed and would not sign before `next`. */
export function supersededBy(k: StoredKey, next: StoredKey, at: number): boolean {
  return k.supersededAt === null && k.activatesAt > at && k.activatesAt >= next.activatesAt;
}
