/**
 * A map of at most `maxEntries` entries and, when `maxWeight` is given, at most that much weight
 * (e.g. bytes), with no per-entry bookkeeping: entries go into a young generation; when it is full
 * it becomes the old one and the previous old one is dropped. A hit in the old generation moves
 * back to the young one, so entries in use stay (an LRU approximation, as in quick-lru). Evicting
 * "the oldest" entry of one Map instead makes V8 scan the holes that deletes leave, thousands per
 * eviction in a full map.
 */
export class BoundedCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private youngWeight = 0;
  private readonly generationSize: number;
  private readonly generationWeight: number;

  constructor(
    maxEntries: number,
    maxWeight = Infinity,
    private readonly weigh: (key: K, value: V) => number = () => 0,
  ) {
    this.generationSize = Math.max(1, Math.floor(maxEntries / 2));
    this.generationWeight = maxWeight / 2;
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
    const weight = this.weigh(key, value);
    // One entry heavier than a generation would only push everything else out.
    if (weight > this.generationWeight) return;
    this.old.delete(key);
    this.young.set(key, value);
    this.youngWeight += weight;
    if (this.young.size >= this.generationSize || this.youngWeight >= this.generationWeight) {
      this.old = this.young;
      this.young = new Map();
      this.youngWeight = 0;
    }
  }

  /** Entries held, in both generations: never more than `maxEntries`. */
  get size(): number {
    return this.young.size + this.old.size;
  }

  delete(key: K): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  /** Deletes every entry `drop` picks; how many. Visits them all: for rare events, not per request. */
  deleteWhere(drop: (value: V, key: K) => boolean): number {
    let dropped = 0;
    for (const map of [this.young, this.old])
      for (const [key, value] of map)
        if (drop(value, key)) {
          map.delete(key);
          dropped++;
        }
    return dropped;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngWeight = 0;
  }
}
