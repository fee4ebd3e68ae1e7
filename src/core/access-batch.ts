/**
 * Hit bookkeeping for the SQL and document tiers, batched: a hit adds one to its key's count here
 * and a timer writes the counts (and the day's hits, misses and latency) in one statement or
 * transaction, so a lookup never writes. The tiers differ only in how they write a batch.
 */
export interface AccessTotals {
  hits: number;
  misses: number;
  latencyMs: number;
}

export interface AccessBatchContents {
  /** [key hash, hits since the last flush], one per key. */
  counts: Array<[string, number]>;
  totals: AccessTotals;
}

export class AccessBatch {
  private counts = new Map<string, number>();
  private totals: AccessTotals = { hits: 0, misses: 0, latencyMs: 0 };

  /** One lookup: a hit on `hash`, or a miss (`hash` undefined), which took `latencyMs`. */
  record(hash: string | undefined, latencyMs = 0): void {
    this.totals.latencyMs += latencyMs;
    if (hash === undefined) {
      this.totals.misses++;
      return;
    }
    this.totals.hits++;
    this.counts.set(hash, (this.counts.get(hash) ?? 0) + 1);
  }

  /** The key's entry was deleted: its pending count has nowhere to go. */
  forget(hash: string): void {
    this.counts.delete(hash);
  }

  /** Everything was cleared. */
  forgetAll(): void {
    this.counts.clear();
  }

  /** Takes what is pending for a flush; undefined when there is nothing. */
  take(): AccessBatchContents | undefined {
    if (this.counts.size === 0 && this.totals.hits + this.totals.misses === 0) return undefined;
    const taken = { counts: [...this.counts], totals: this.totals };
    this.counts = new Map();
    this.totals = { hits: 0, misses: 0, latencyMs: 0 };
    return taken;
  }

  /** A flush failed (a lock, a lost connection): its counts go back for the next one. */
  giveBack(taken: AccessBatchContents): void {
    for (const [hash, n] of taken.counts) this.counts.set(hash, (this.counts.get(hash) ?? 0) + n);
    this.totals.hits += taken.totals.hits;
    this.totals.misses += taken.totals.misses;
    this.totals.latencyMs += taken.totals.latencyMs;
  }
}
