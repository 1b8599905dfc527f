import type { SigningAlg } from '../config.js';
import type { PublicJwk } from './jwk.js';

/** A signing key as the registry keeps it: the private key only sealed under the master key. */
export interface StoredKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: PublicJwk;
  /** The PKCS#8 PEM private key, sealed under the master key with context `signing-key:<kid>`. */
  privateKeySealed: string;
  createdAt: number;
  /** The key signs from this moment on; before it, it is only published. */
  activatesAt: number;
  /** Set when a newer key takes over: the key stays published until then, for verification. */
  retiresAt: number | null;
}

/** Persistence of the signing keys, in domain terms. */
export interface KeyStore {
  /** Every stored key, retired ones too, earliest activation first. */
  list(): Promise<StoredKey[]>;
  /** Rejects when the kid is taken. */
  insert(key: StoredKey): Promise<void>;
  /**
   * In one transaction: every key that would retire after `retireOthersBy`, or never, now retires
   * at `retireOthersBy` (earlier retirements stay), then `next` is stored. Rejects, changing
   * nothing, when the kid of `next` is taken.
   */
  rotate(next: StoredKey, retireOthersBy: number): Promise<void>;
}
