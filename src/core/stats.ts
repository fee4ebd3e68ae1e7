/**
 * Counters and latency histograms, per tier and overall.
 *
 * Latencies go into a log-bucketed histogram (8 buckets per doubling, ~9% resolution, 1 µs to
 * ~70 s): recording is one Math.log2 and an increment, memory is fixed, and p50/p99 stay honest
 * over millions of lookups, unlike a sample reservoir.
 */
const BUCKETS_PER_DOUBLING = 8;
const BUCKET_COUNT = 26 * BUCKETS_PER_DOUBLING;

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKET_COUNT);
  private total = 0;
  private sumMs = 0;

  record(ms: number): void {
    const us = ms * 1000;
    const index = us <= 1 ? 0 : Math.min(BUCKET_COUNT - 1, Math.floor(Math.log2(us) * BUCKETS_PER_DOUBLING));
    this.counts[index]!++;
    this.total++;
    this.sumMs += ms;
  }

  get count(): number {
    return this.total;
  }

  /** Upper edge of the bucket holding the q-quantile, in ms; 0 when empty. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return 2 ** ((i + 1) / BUCKETS_PER_DOUBLING) / 1000;
    }
    return 2 ** (BUCKET_COUNT / BUCKETS_PER_DOUBLING) / 1000;
  }

  mean(): number {
    return this.total === 0 ? 0 : this.sumMs / this.total;
  }

  /**
   * Cumulative counts at the given upper bounds (ms), as a Prometheus histogram wants them. A
   * sample counts under a bound when its whole bucket lies below it, so counts are exact to the
   * buckets' ~9% resolution and never overstate how fast a call was.
   */
  cumulative(boundsMs: readonly number[]): CumulativeLatency {
    const counts = boundsMs.map(() => 0);
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const n = this.counts[i]!;
      if (n === 0) continue;
      const upperMs = 2 ** ((i + 1) / BUCKETS_PER_DOUBLING) / 1000;
      boundsMs.forEach((bound, b) => {
        if (upperMs <= bound) counts[b]! += n;
      });
    }
    return { counts, count: this.total, sumMs: this.sumMs };
  }

  /** The non-empty buckets, for another process to merge (fleet counters). */
  toJSON(): HistogramData {
    const buckets: Array<[number, number]> = [];
    this.counts.forEach((n, i) => {
      if (n > 0) buckets.push([i, n]);
    });
    return { buckets, sumMs: this.sumMs };
  }

  /** Adds another histogram's samples (from `toJSON`, any process). Malformed buckets are ignored. */
  merge(data: HistogramData): this {
    for (const [i, n] of data.buckets) {
      if (!Number.isInteger(i) || i < 0 || i >= BUCKET_COUNT || !Number.isInteger(n) || n <= 0) continue;
      this.counts[i]! += n;
      this.total += n;
    }
    if (Number.isFinite(data.sumMs)) this.sumMs += data.sumMs;
    return this;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      meanMs: round(this.mean()),
      p50Ms: round(this.quantile(0.5)),
      p99Ms: round(this.quantile(0.99)),
    };
  }
}

/** A histogram as JSON: `[bucket index, count]` pairs of the non-empty buckets, and the sum. */
export interface HistogramData {
  buckets: Array<[number, number]>;
  sumMs: number;
}

export interface CumulativeLatency {
  /** Samples at or below each bound, in the order of the bounds. */
  counts: number[];
  count: number;
  sumMs: number;
}

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** The plain counts of TierCounters, in report order (metrics, fleet snapshots). */
export const TIER_COUNTER_FIELDS = [
  'hits',
  'misses',
  'sets',
  'refused',
  'errors',
  'timeouts',
  'corrupt',
  'backfills',
  'evictions',
  'skipped',
] as const;
export type TierCounterField = (typeof TIER_COUNTER_FIELDS)[number];

/** What the manager counts for one tier. */
export class TierCounters {
  hits = 0;
  misses = 0;
  sets = 0;
  refused = 0;
  errors = 0;
  timeouts = 0;
  corrupt = 0;
  backfills = 0;
  evictions = 0;
  skipped = 0;
  readonly getLatency = new LatencyHistogram();
  readonly setLatency = new LatencyHistogram();
  /** Cosine similarity of similarity-tier hits. */
  readonly similarity = new SimilarityStats();
}

export class SimilarityStats {
  count = 0;
  sum = 0;
  min = 1;

  record(similarity: number): void {
    this.count++;
    this.sum += similarity;
    this.min = Math.min(this.min, similarity);
  }

  summary(): { count: number; mean: number; min: number } | undefined {
    if (this.count === 0) return undefined;
    return {
      count: this.count,
      mean: Math.round((this.sum / this.count) * 1e4) / 1e4,
      min: Math.round(this.min * 1e4) / 1e4,
    };
  }
}

/** What the manager counts for the cache as a whole. */
export class CacheCounters {
  lookups = 0;
  hits = 0;
  misses = 0;
  updates = 0;
  /** Updates refused because no lookup could use what they carried. */
  unstorable = 0;
  coalesced = 0;
  /** Lookups refused because the llmKey did not establish which model answers (langchain/model-identity.ts). */
  unidentified = 0;
  /** Expired answers served because the model call failed (stale-if-error, core/stale.ts); each also counted a miss. */
  stale = 0;
  errors = 0;
  readonly lookupLatency = new LatencyHistogram();
}
