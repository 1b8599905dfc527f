/**
 * A map of at most `maxEntries`, with no per-entry bookkeeping: entries go into a young
 * generation; when it is full it becomes the old one and the previous old one is dropped. A hit in
 * the old generation moves back to the young one, so entries in use stay (an LRU approximation, as
 * in quick-lru). Evicting "the oldest" entry of one Map instead makes V8 scan the holes that
 * deletes leave, thousands per eviction in a full map.
 */
export class BoundedCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generationSize: number;

  constructor(maxEntries: number) {
    this.generationSize = Math.max(1, Math.floor(maxEntries / 2));
  }

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.set(key, aged);
    }
    return aged;
  }

  set(key: K, value: V): void {
    this.old.delete(key);
    this.young.set(key, value);
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  delete(key: K): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }
}
