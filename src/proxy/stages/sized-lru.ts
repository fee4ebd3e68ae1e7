/**
 * A map bounded by entries and by a size of each entry's own reckoning, least recently used out
 * first: what the gateway keeps across requests (known.ts: what a body derived; prepared.ts: the
 * bytes a hit was sent as). Insertion order is the recency order. A use moves an entry to the
 * young end only once it is in the older half (re-inserting on every use cost more than the rest
 * of a hit's lookup), so this is nearly LRU: it evicts only entries unused for a while.
 */
interface Slot<V> {
  readonly value: V;
  readonly size: number;
  /** When it was last (re)inserted, counted in insertions (see `touch`). */
  tick: number;
}

export class SizedLru<V> {
  private readonly slots = new Map<string, Slot<V>>();
  private total = 0;
  private tick = 0;

  constructor(
    private readonly maxSize: number,
    private readonly maxEntries = Number.POSITIVE_INFINITY,
  ) {}

  get size(): number {
    return this.slots.size;
  }

  get(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.touch(key, slot);
    return slot.value;
  }

  /** Keeps `value` (replacing the key's), unless its size alone is over the bound. */
  set(key: string, value: V, size: number): void {
    if (size > this.maxSize) return;
    this.delete(key);
    this.slots.set(key, { value, size, tick: ++this.tick });
    this.total += size;
    for (const [oldest, slot] of this.slots) {
      if (this.slots.size <= this.maxEntries && this.total <= this.maxSize) break;
      this.slots.delete(oldest);
      this.total -= slot.size;
    }
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.slots.delete(key);
    this.total -= slot.size;
  }

  private touch(key: string, slot: Slot<V>): void {
    if (this.tick - slot.tick <= this.slots.size >> 1) return;
    this.slots.delete(key);
    slot.tick = ++this.tick;
    this.slots.set(key, slot);
  }
}
