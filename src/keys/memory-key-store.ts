import { ConflictError } from '../errors.js';
import { type KeyStore, type StoredKey, supersededBy } from './key-store.js';

/** KeyStore in memory, for unit tests: behaves like the SQL store (test/store-contract.test.ts). */
export class MemoryKeyStore implements KeyStore {
  /** In insertion order. */
  private readonly keys: StoredKey[] = [];

  async list(): Promise<StoredKey[]> {
    // A stable sort: equal activation times keep insertion order.
    return this.keys.map(copy).sort((a, b) => a.activatesAt - b.activatesAt);
  }

  async insert(key: StoredKey): Promise<void> {
    if (this.keys.some((k) => k.kid === key.kid)) throw new ConflictError(`duplicate kid ${key.kid}`);
    this.keys.push(copy(key));
  }

  async rotate(next: StoredKey, at: number): Promise<string[]> {
    // Checked first: a failed rotation, like the SQL transaction, changes nothing.
    if (this.keys.some((k) => k.kid === next.kid)) throw new ConflictError(`duplicate kid ${next.kid}`);
    const superseded = this.keys.filter((k) => supersededBy(k, next, at));
    for (const k of superseded) k.supersededAt = at;
    this.keys.push(copy(next));
    return superseded.map((k) => k.kid);
  }
}

function copy(k: StoredKey): StoredKey {
  return { ...k, publicJwk: { ...k.publicJwk } };
}
