import type { KeyStore, StoredKey } from './key-store.js';

/** KeyStore in memory, for unit tests: behaves like the SQL store (test/store-contract.test.ts). */
export class MemoryKeyStore implements KeyStore {
  /** In insertion order. */
  private readonly keys: StoredKey[] = [];

  async list(): Promise<StoredKey[]> {
    // A stable sort: equal activation times keep insertion order.
    return this.keys.map(copy).sort((a, b) => a.activatesAt - b.activatesAt);
  }

  async insert(key: StoredKey): Promise<void> {
    if (this.keys.some((k) => k.kid === key.kid)) throw new Error(`duplicate kid ${key.kid}`);
    this.keys.push(copy(key));
  }

  async rotate(next: StoredKey, retireOthersBy: number): Promise<void> {
    // Checked first: a failed rotation, like the SQL transaction, changes nothing.
    if (this.keys.some((k) => k.kid === next.kid)) throw new Error(`duplicate kid ${next.kid}`);
    for (const k of this.keys) if (k.retiresAt === null || k.retiresAt > retireOthersBy) k.retiresAt = retireOthersBy;
    this.keys.push(copy(next));
  }
}

function copy(k: StoredKey): StoredKey {
  return { ...k, publicJwk: { ...k.publicJwk } };
}
