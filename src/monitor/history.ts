/**
 * The dashboard's time series at four ranges. Every sample (each `sampleSeconds`) is kept for the
 * last hour; the same samples are also summed into 5-minute buckets for the last 24 hours and
 * 1-hour buckets for the last 7 days, so a long range costs a few hundred points, not a week of
 * samples. In fleet mode the closed 5-minute buckets are also persisted and restored at start
 * (history-store.ts), so 24 hours survive a restart; days before that come from the statistics
 * the SQL tiers persist per day (`strata stats --days`), one point per day.
 *
 * A bucket adds counts (lookups, hits, per-tier hits and misses, savings) and keeps the worst
 * latency of its samples: the p99 a bucket shows is the highest p99 sampled within it.
 */
import type { DailyStats } from '../core/tier.js';

export type SeriesRange = '15m' | '1h' | '24h' | '7d';
export const SERIES_RANGES: readonly SeriesRange[] = ['15m', '1h', '24h', '7d'];

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const SPAN: Record<SeriesRange, number> = { '15m': 15 * MINUTE, '1h': HOUR, '24h': DAY, '7d': 7 * DAY };

export interface TierPoint {
  hits: number;
  misses: number;
  /** ms; null when the tier served no get in the point (no latency to show). */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** One point of the dashboard's history: what happened in the `spanMs` ending at `at`. */
export interface SeriesPoint {
  at: number;
  spanMs: number;
  lookups: number;
  hits: number;
  /** Hits / lookups in the point (null with no lookups). */
  hitRate: number | null;
  tiers: Record<string, TierPoint>;
  /** What the hits in the point saved, per model: tokens and USD. */
  savings: Record<string, { tokens: number; cost: number }>;
  /** Where the point came from: live samples, or a day of persisted statistics. */
  source: 'samples' | 'daily';
}

export interface Series {
  range: SeriesRange;
  from: number;
  to: number;
  /** When this history began (the monitor's start): points before it come from persisted days. */
  startedAt: number;
  points: SeriesPoint[];
}

/** Sums samples into buckets of `widthMs` aligned to the epoch, keeping those younger than `keepMs`. */
class Buckets {
  readonly points: SeriesPoint[] = [];
  constructor(
    private readonly widthMs: number,
    private readonly keepMs: number,
  ) {}

  /** Adds a sample (or a bucket of another's); returns the bucket this closed, if any. */
  add(sample: SeriesPoint): SeriesPoint | undefined {
    const start = Math.floor((sample.at - 1) / this.widthMs) * this.widthMs;
    const last = this.points.at(-1);
    let closed: SeriesPoint | undefined;
    if (last && last.at === start + this.widthMs) merge(last, sample);
    else {
      if (last && last.at < start + this.widthMs) closed = copy(last);
      this.points.push({ ...copy(sample), at: start + this.widthMs, spanMs: this.widthMs });
    }
    drop(this.points, sample.at - this.keepMs);
    return closed;
  }
}

export const BUCKET_MS = 5 * MINUTE;

export class History {
  private readonly samples: SeriesPoint[] = [];
  private readonly fiveMinutes = new Buckets(BUCKET_MS, DAY);
  private readonly hours = new Buckets(HOUR, 7 * DAY);
  /** Where the history begins: the monitor's start, or the oldest bucket restored (restore). */
  private startedAt: number;

  constructor(now: number) {
    this.startedAt = now;
  }

  /** Adds a sample; returns the 5-minute bucket it closed, if any (to persist). */
  add(sample: SeriesPoint): SeriesPoint | undefined {
    this.samples.push(sample);
    drop(this.samples, sample.at - HOUR);
    this.hours.add(sample);
    return this.fiveMinutes.add(sample);
  }

  /**
   * Puts back 5-minute buckets an earlier monitor persisted, before this one's first sample:
   * the 24-hour and 7-day ranges then reach back past a restart. Buckets that end after this
   * history began are left out (this monitor's samples cover that time).
   */
  restore(buckets: readonly SeriesPoint[]): void {
    if (this.samples.length > 0) return;
    const older = buckets
      .filter((b) => b.spanMs === BUCKET_MS && b.at <= this.startedAt)
      .sort((a, b) => a.at - b.at);
    for (const b of older) {
      this.fiveMinutes.add(b);
      this.hours.add(b);
    }
    const first = older[0];
    if (first) this.startedAt = Math.min(this.startedAt, first.at - BUCKET_MS);
  }

  /**
   * The points of one range ending at `now`. For 7 days, `daily` (the persisted per-day
   * statistics) fills the days before this process's first hour bucket.
   */
  range(range: SeriesRange, now: number, daily: readonly DailyStats[] = []): Series {
    const from = now - SPAN[range];
    const source =
      range === '24h' ? this.fiveMinutes.points : range === '7d' ? this.hours.points : this.samples;
    // The bucket still filling ends in the future: it is shown as of now.
    const points = source
      .filter((p) => p.at > from)
      .map((p) => (p.at > now ? { ...copy(p), at: now } : copy(p)));
    if (range === '7d') {
      const firstLive = points[0]?.at ?? now;
      const before = dailyPoints(daily).filter(
        (p) => p.at > from && p.at <= Math.min(firstLive, this.startedAt),
      );
      points.unshift(...before);
    }
    return { range, from, to: now, startedAt: this.startedAt, points };
  }
}

/**
 * One point per day from the persisted statistics (hits, misses and mean get latency of each
 * tier that persists them), placed at the end of its UTC day. The mean stands in for the p99 the
 * live points show. The cache-wide lookups and hit rate are not known for such a day (a memory
 * tier in front persists nothing), so they stay 0 and null rather than being guessed.
 */
export function dailyPoints(daily: readonly DailyStats[]): SeriesPoint[] {
  const byDay = new Map<string, SeriesPoint>();
  for (const d of daily) {
    const end = Date.parse(`${d.day}T00:00:00Z`) + DAY;
    if (!Number.isFinite(end)) continue;
    let point = byDay.get(d.day);
    if (!point) {
      point = {
        at: end,
        spanMs: DAY,
        lookups: 0,
        hits: 0,
        hitRate: null,
        tiers: {},
        savings: {},
        source: 'daily',
      };
      byDay.set(d.day, point);
    }
    const latency = d.hits + d.misses > 0 ? d.avgLatencyMs : null;
    point.tiers[d.tier] = { hits: d.hits, misses: d.misses, p50Ms: latency, p99Ms: latency };
  }
  return [...byDay.values()].sort((a, b) => a.at - b.at);
}

function merge(into: SeriesPoint, sample: SeriesPoint): void {
  into.lookups += sample.lookups;
  into.hits += sample.hits;
  into.hitRate = into.lookups === 0 ? null : Math.min(1, into.hits / into.lookups);
  for (const [name, t] of Object.entries(sample.tiers)) {
    const mine = into.tiers[name];
    if (!mine) {
      into.tiers[name] = { ...t };
      continue;
    }
    mine.hits += t.hits;
    mine.misses += t.misses;
    mine.p50Ms = worst(mine.p50Ms, t.p50Ms);
    mine.p99Ms = worst(mine.p99Ms, t.p99Ms);
  }
  for (const [model, s] of Object.entries(sample.savings)) {
    const mine = into.savings[model];
    if (mine) {
      mine.tokens += s.tokens;
      mine.cost += s.cost;
    } else into.savings[model] = { ...s };
  }
}

const worst = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

function copy(p: SeriesPoint): SeriesPoint {
  const tiers: SeriesPoint['tiers'] = {};
  for (const [name, t] of Object.entries(p.tiers)) tiers[name] = { ...t };
  const savings: SeriesPoint['savings'] = {};
  for (const [model, s] of Object.entries(p.savings)) savings[model] = { ...s };
  return { ...p, tiers, savings };
}

/** Removes points at or before `before` from the front of a time-ordered list. */
function drop(points: SeriesPoint[], before: number): void {
  let n = 0;
  while (n < points.length && points[n]!.at <= before) n++;
  if (n > 0) points.splice(0, n);
}
