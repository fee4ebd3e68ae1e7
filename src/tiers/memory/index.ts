/**
 * Memory tier: an LRU bounded by entry count and by bytes, with TTL and a tag index.
 *
 * The LRU is a single Map. A Map iterates in insertion order, so re-inserting a key on every hit
 * moves it to the back, and the first key is always the least recently used: get, set and evict
 * are all O(1) with no linked list to maintain. Expired entries are dropped when touched and by
 * purgeExpired(); they never come back from get().
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
    // Refresh recency: move to the back of the insertion order.
    this.slots.delete(key.hash);
    this.slots.set(key.hash, slot);
    return slot.entry.payload;
  }

  set(key: CacheKey, entry: StoredEntry): boolean {
    if (entry.size > this.options.maxBytes) return false;
    const previous = this.slots.get(key.hash);
    if (previous) this.remove(key.hash, previous);
    this.slots.set(key.hash, { namespace: key.namespace, entry });
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
      const oldest = this.slots.keys().next();
      if (oldest.done) return;
      const hash = oldest.value;
      const reason = this.slots.size > this.options.maxEntries ? 'lru' : 'size';
      this.remove(hash, this.slots.get(hash)!);
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
