/**
 * Memory tier: an LRU bounded by entry count and by bytes, with TTL and a tag index.
 *
 * The recency order is a single Map, which iterates in insertion order, with a second chance
 * (the CLOCK approximation of LRU): a hit only marks its slot as used, and eviction walks from
 * the oldest insertion, moving a used slot to the back (clearing its mark) and evicting the first
 * unused one. A hit thus costs one Map lookup instead of a delete and a re-insert, and an entry
 * read since the last eviction pass is never the one evicted. Expired entries are dropped when
 * touched and by purgeExpired(); they never come back from get().
 *
 * Entries are held as encoded payload strings, not objects: each hit is decoded into fresh
 * objects, so a caller mutating its answer (LangChain itself zeroes usage_metadata on hits)
 * never changes what the next caller gets.
 */
import type { Clock } from '../../core/clock.js';
import type { StoredEntry } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import type { EvictionListener, ListedEntry, Tier, TierHealth, TierStats } from '../../core/tier.js';
import type { MemoryTierConfig } from './config.js';

/** `maxEntries` and `maxBytes` as config/schema.ts validates them (config.ts); a single entry larger than `maxBytes` is refused. */
export type MemoryTierOptions = Pick<MemoryTierConfig, 'maxEntries' | 'maxBytes'> & {
  name?: string;
  clock: Clock;
  onEviction?: EvictionListener;
};

interface Slot {
  readonly namespace: string;
  readonly entry: StoredEntry;
  /** Read since it was inserted or last passed over by eviction. */
  used: boolean;
}

export class MemoryTier implements Tier {
  readonly name: string;
  readonly type = 'memory';
  readonly local = true;
  private readonly slots = new Map<string, Slot>();
  private readonly byTag = new Map<string, Set<string>>();
  private bytes = 0;
  private evictions = 0;

  constructor(private readonly options: MemoryTierOptions) {
    this.name = options.name ?? 'memory';
  }

  get(key: CacheKey): string | undefined {
    const slot = this.slots.get(key.hash);
    if (!slot) return undefined;
    const { expiresAt } = slot.entry;
    if (expiresAt !== null && expiresAt <= this.options.clock.now()) {
      this.remove(key.hash, slot);
      this.options.onEviction?.({ tier: this.name, hash: key.hash, reason: 'expired' });
      return undefined;
    }
    slot.used = true;
    return slot.entry.payload;
  }

  set(key: CacheKey, entry: StoredEntry): boolean {
    if (entry.size > this.options.maxBytes) return false;
    const previous = this.slots.get(key.hash);
    if (previous) this.remove(key.hash, previous);
    this.slots.set(key.hash, { namespace: key.namespace, entry, used: false });
    this.bytes += entry.size;
    for (const tag of entry.tags) {
      const hashes = this.byTag.get(tag);
      if (hashes) hashes.add(key.hash);
      else this.byTag.set(tag, new Set([key.hash]));
    }
    this.evictOverflow();
    return true;
  }

  delete(key: CacheKey): boolean {
    const slot = this.slots.get(key.hash);
    if (!slot) return false;
    this.remove(key.hash, slot);
    return true;
  }

  clear(namespace?: string): number {
    if (namespace === undefined) {
      const count = this.slots.size;
      this.slots.clear();
      this.byTag.clear();
      this.bytes = 0;
      return count;
    }
    let count = 0;
    for (const [hash, slot] of this.slots) {
      if (slot.namespace !== namespace) continue;
      this.remove(hash, slot);
      count++;
    }
    return count;
  }

  invalidateTag(tag: string, namespace?: string): number {
    const hashes = this.byTag.get(tag);
    if (!hashes) return 0;
    let count = 0;
    for (const hash of [...hashes]) {
      const slot = this.slots.get(hash);
      if (!slot || (namespace !== undefined && slot.namespace !== namespace)) continue;
      this.remove(hash, slot);
      count++;
    }
    return count;
  }

  purgeExpired(): number {
    const now = this.options.clock.now();
    let count = 0;
    for (const [hash, slot] of this.slots) {
      if (slot.entry.expiresAt === null || slot.entry.expiresAt > now) continue;
      this.remove(hash, slot);
      count++;
    }
    return count;
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    const now = this.options.clock.now();
    for (const [hash, slot] of [...this.slots]) {
      if (namespace !== undefined && slot.namespace !== namespace) continue;
      if (slot.entry.expiresAt !== null && slot.entry.expiresAt <= now) continue;
      yield { namespace: slot.namespace, hash, payload: slot.entry.payload };
    }
  }

  stats(): TierStats {
    return {
      entries: this.slots.size,
      bytes: this.bytes,
      maxEntries: this.options.maxEntries,
      maxBytes: this.options.maxBytes,
      evictions: this.evictions,
    };
  }

  health(): TierHealth {
    return { status: 'up' };
  }

  close(): void {
    this.clear();
  }

  private evictOverflow(): void {
    while (this.slots.size > this.options.maxEntries || this.bytes > this.options.maxBytes) {
      const oldest = this.slots.entries().next();
      if (oldest.done) return;
      const [hash, slot] = oldest.value;
      if (slot.used) {
        // Second chance: to the back, unmarked.
        slot.used = false;
        this.slots.delete(hash);
        this.slots.set(hash, slot);
        continue;
      }
      const reason = this.slots.size > this.options.maxEntries ? 'lru' : 'size';
      this.remove(hash, slot);
      this.evictions++;
      this.options.onEviction?.({ tier: this.name, hash, reason });
    }
  }

  private remove(hash: string, slot: Slot): void {
    this.slots.delete(hash);
    this.bytes -= slot.entry.size;
    for (const tag of slot.entry.tags) {
      const hashes = this.byTag.get(tag);
      if (!hashes) continue;
      hashes.delete(hash);
      if (hashes.size === 0) this.byTag.delete(tag);
    }
  }
}
