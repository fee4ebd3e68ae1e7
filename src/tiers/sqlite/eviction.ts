/**
 * Least-recently-used eviction above maxEntries / maxBytes: checked on the first write after
 * open, every max(1, min(100, maxEntries / 10)) writes, on purge and on close.
 */
import type { EvictionListener } from '../../core/tier.js';
import type { Statements } from './statements.js';

const EVICT_EVERY = 100;

export interface Limits {
  maxEntries?: number | undefined;
  maxBytes?: number | undefined;
}

export class Eviction {
  /** Entries evicted since open. */
  evictions = 0;
  private readonly every: number;
  /** Starts due, so the first write of a process checks the limits (short-lived processes add up). */
  private writesSince: number;

  constructor(
    private readonly tier: string,
    private readonly limits: Limits,
    private readonly stmt: Statements,
    /** Writes the batched access counts first, so recency is current (best effort). */
    private readonly beforeEvicting: () => void,
    private readonly onEviction: EvictionListener | undefined,
  ) {
    const m = limits.maxEntries;
    this.every = m === undefined ? EVICT_EVERY : Math.max(1, Math.min(EVICT_EVERY, Math.floor(m / 10)));
    this.writesSince = this.every;
  }

  /** Writes were made since the last check. */
  get due(): boolean {
    return this.writesSince > 0;
  }

  /**
   * Counts `count` writes and checks the limits when due, unless `hold` (a damaged file gets no
   * evictions); a lock taken defers the check to a later write.
   */
  afterWrite(count: number, hold: boolean): void {
    this.writesSince += count;
    if (this.writesSince < this.every || hold) return;
    try {
      this.enforce();
    } catch {
      // locked: checked again on the next write
    }
  }

  /** Deletes least recently used rows until both limits hold. */
  enforce(): void {
    const { maxEntries, maxBytes } = this.limits;
    if (maxEntries === undefined && maxBytes === undefined) {
      this.writesSince = 0;
      return;
    }
    this.beforeEvicting();
    for (;;) {
      const { entries, bytes } = this.stmt.totals.get() as { entries: number; bytes: number };
      let excess = maxEntries === undefined ? 0 : entries - maxEntries;
      if (maxBytes !== undefined && bytes > maxBytes) excess = Math.max(excess, Math.ceil(entries / 10), 1);
      if (excess <= 0) break;
      const evicted = this.stmt.evictOldest.all(excess) as string[];
      this.evictions += evicted.length;
      for (const hash of evicted) this.onEviction?.({ tier: this.tier, hash, reason: 'lru' });
      if (evicted.length === 0) break;
    }
    this.writesSince = 0;
  }
}
