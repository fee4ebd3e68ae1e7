/**
 * Fleet counters: every process that shares a cache reports what it counted, so `strata serve`
 * (or any monitor) shows the whole fleet's lookups, hits, latencies and savings instead of its own.
 *
 * Design. Each process keeps its counters cumulatively, as it always did, and every few seconds
 * writes one snapshot of them (JSON) under its own process id to one shared tier: the first tier
 * of the config that can hold them (SQLite's `fleet_counters` table, Redis's `<prefix>fleet`
 * hash, ...). A report replaces that process's previous one, so the store holds one row per
 * process however long it runs, and a reader sums the rows. Summing cumulative snapshots is exact
 * (no window can drop or double-count a lookup) and histograms merge bucket by bucket, so the
 * fleet's p50 and p99 are real quantiles, not averages of quantiles. A process reports once more
 * when it closes; rows not updated for a day are dropped by the writers.
 *
 * Reporting never touches the lookup path (a timer reads the counters) and never throws: a store
 * that is down costs a log line, once per outage.
 */
import { hostname } from 'node:os';
import type { Manager } from './manager.js';
import type { FleetStore, LatencyHistograms, StatsReport, TierReport } from './reports.js';
import {
  type HistogramData,
  LatencyHistogram,
  type LatencySummary,
  SimilarityStats,
  TIER_COUNTER_FIELDS,
} from './stats.js';
import { FLEET_RETENTION_MS } from './tier.js';

/** How often a process reports when the config does not say (monitoring.reportSeconds). */
export const DEFAULT_REPORT_SECONDS = 10;

const TIER_FIELDS = TIER_COUNTER_FIELDS;
const CACHE_FIELDS = [
  'lookups',
  'hits',
  'misses',
  'updates',
  'unstorable',
  'coalesced',
  'unidentified',
  'stale',
  'errors',
] as const;

type TierSnapshot = { name: string; type: string } & Record<(typeof TIER_FIELDS)[number], number> & {
    get: HistogramData;
    set: HistogramData;
    similarity: { count: number; sum: number; min: number };
  };

/** What one process reports: its counters since it started. */
export interface CountersSnapshot {
  v: 1;
  process: string;
  host: string;
  pid: number;
  startedAt: number;
  /** When this snapshot was taken (epoch ms). */
  at: number;
  cache: Record<(typeof CACHE_FIELDS)[number], number> & { lookup: HistogramData };
  tiers: TierSnapshot[];
  /** Tokens saved per model (priced by the reader, which has the price table). */
  savings: Array<{ model: string; hits: number; inputTokens: number; outputTokens: number }>;
}

export function newProcessId(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

/** Tokens saved per model, as this process counted them (monitor/savings.ts's Savings). */
export interface SavingsSource {
  report(): { models: Array<{ model: string; hits: number; inputTokens: number; outputTokens: number }> };
}

export function takeSnapshot(
  manager: Manager,
  identity: { process: string; startedAt: number },
  savings: SavingsSource,
): CountersSnapshot {
  const { cache, tiers } = manager.queries.counters();
  return {
    v: 1,
    process: identity.process,
    host: hostname(),
    pid: process.pid,
    startedAt: identity.startedAt,
    at: manager.now(),
    cache: {
      lookups: cache.lookups,
      hits: cache.hits,
      misses: cache.misses,
      updates: cache.updates,
      unstorable: cache.unstorable,
      coalesced: cache.coalesced,
      unidentified: cache.unidentified,
      stale: cache.stale,
      errors: cache.errors,
      lookup: cache.lookupLatency.toJSON(),
    },
    tiers: tiers.map(({ name, type, counters: c }) => ({
      name,
      type,
      ...Object.fromEntries(TIER_FIELDS.map((f) => [f, c[f]])),
      get: c.getLatency.toJSON(),
      set: c.setLatency.toJSON(),
      similarity: { count: c.similarity.count, sum: c.similarity.sum, min: c.similarity.min },
    })) as TierSnapshot[],
    savings: savings.report().models.map(({ model, hits, inputTokens, outputTokens }) => ({
      model,
      hits,
      inputTokens,
      outputTokens,
    })),
  };
}

/** Parses stored rows, dropping what is not a snapshot (a row written by a newer version, damage). */
export function parseSnapshots(rows: readonly string[]): CountersSnapshot[] {
  const out: CountersSnapshot[] = [];
  for (const row of rows) {
    try {
      const s = JSON.parse(row) as CountersSnapshot;
      if (s?.v === 1 && typeof s.process === 'string' && s.cache && Array.isArray(s.tiers)) out.push(s);
    } catch {
      // not ours, or damaged: skipped
    }
  }
  return out;
}

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** One process's row of `perProcess`: who it is and what it counted. */
export interface ProcessCounters {
  process: string;
  host: string;
  pid: number;
  startedAt: number;
  reportedAt: number;
  lookups: number;
  hits: number;
  misses: number;
  tiers: Record<string, { hits: number; misses: number }>;
}

/**
 * The fleet's counters as a StatsReport: the sum over `snapshots`, with this process's view of
 * each tier (breaker state, what the tier holds) from `local`. A tier some process reports but this
 * one does not have is listed after the local ones.
 */
export function fleetReport(local: StatsReport, snapshots: readonly CountersSnapshot[]): StatsReport {
  const lookupHist = new LatencyHistogram();
  const cache = Object.fromEntries(CACHE_FIELDS.map((f) => [f, 0])) as Record<
    (typeof CACHE_FIELDS)[number],
    number
  >;
  const tiers = new Map<
    string,
    {
      type: string;
      counts: Record<(typeof TIER_FIELDS)[number], number>;
      get: LatencyHistogram;
      set: LatencyHistogram;
      similarity: SimilarityStats;
    }
  >();
  for (const s of snapshots) {
    for (const f of CACHE_FIELDS) cache[f] += num(s.cache[f]);
    if (s.cache.lookup) lookupHist.merge(s.cache.lookup);
    for (const t of s.tiers) {
      let acc = tiers.get(t.name);
      if (!acc) {
        acc = {
          type: t.type,
          counts: Object.fromEntries(TIER_FIELDS.map((f) => [f, 0])) as Record<
            (typeof TIER_FIELDS)[number],
            number
          >,
          get: new LatencyHistogram(),
          set: new LatencyHistogram(),
          similarity: new SimilarityStats(),
        };
        tiers.set(t.name, acc);
      }
      for (const f of TIER_FIELDS) acc.counts[f] += num(t[f]);
      if (t.get) acc.get.merge(t.get);
      if (t.set) acc.set.merge(t.set);
      if (t.similarity && num(t.similarity.count) > 0) {
        acc.similarity.count += num(t.similarity.count);
        acc.similarity.sum += num(t.similarity.sum);
        acc.similarity.min = Math.min(acc.similarity.min, num(t.similarity.min));
      }
    }
  }
  const report = (name: string, base: TierReport | undefined): TierReport => {
    const acc = tiers.get(name)!;
    const out: TierReport = {
      name,
      type: base?.type ?? acc.type,
      breaker: base?.breaker ?? 'closed',
      ...acc.counts,
      get: acc.get.summary(),
      set: acc.set.summary(),
    };
    const similarity = acc.similarity.summary();
    if (similarity) out.similarity = similarity;
    if (base?.store) out.store = base.store;
    return out;
  };
  const empty = (t: TierReport): TierReport => ({
    ...t,
    ...Object.fromEntries(TIER_FIELDS.map((f) => [f, 0])),
    get: EMPTY_SUMMARY,
    set: EMPTY_SUMMARY,
    similarity: undefined,
  });
  const answered = cache.hits + cache.misses;
  return {
    ...cache,
    hitRate: answered === 0 ? 0 : cache.hits / answered,
    inFlight: local.inFlight,
    lookup: lookupHist.summary(),
    tiers: [
      ...local.tiers.map((t) => (tiers.has(t.name) ? report(t.name, t) : empty(t))),
      ...[...tiers.keys()]
        .filter((n) => !local.tiers.some((t) => t.name === n))
        .map((n) => report(n, undefined)),
    ],
  };
}

const EMPTY_SUMMARY: LatencySummary = { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0 };

/** The fleet's latency histograms as cumulative counts at `boundsMs` (for /metrics). */
export function fleetHistograms(
  snapshots: readonly CountersSnapshot[],
  boundsMs: readonly number[],
): LatencyHistograms {
  const lookup = new LatencyHistogram();
  const tiers = new Map<string, { type: string; get: LatencyHistogram; set: LatencyHistogram }>();
  for (const s of snapshots) {
    if (s.cache.lookup) lookup.merge(s.cache.lookup);
    for (const t of s.tiers) {
      let acc = tiers.get(t.name);
      if (!acc) {
        acc = { type: t.type, get: new LatencyHistogram(), set: new LatencyHistogram() };
        tiers.set(t.name, acc);
      }
      if (t.get) acc.get.merge(t.get);
      if (t.set) acc.set.merge(t.set);
    }
  }
  return {
    lookup: lookup.cumulative(boundsMs),
    tiers: [...tiers].map(([name, t]) => ({
      name,
      type: t.type,
      get: t.get.cumulative(boundsMs),
      set: t.set.cumulative(boundsMs),
    })),
  };
}

/** Tokens saved per model over the fleet. */
export function fleetSavings(snapshots: readonly CountersSnapshot[]): CountersSnapshot['savings'] {
  const byModel = new Map<string, CountersSnapshot['savings'][number]>();
  for (const s of snapshots) {
    for (const m of s.savings ?? []) {
      const acc = byModel.get(m.model) ?? { model: m.model, hits: 0, inputTokens: 0, outputTokens: 0 };
      acc.hits += num(m.hits);
      acc.inputTokens += num(m.inputTokens);
      acc.outputTokens += num(m.outputTokens);
      byModel.set(m.model, acc);
    }
  }
  return [...byModel.values()];
}

export function perProcess(snapshots: readonly CountersSnapshot[]): ProcessCounters[] {
  return snapshots.map((s) => ({
    process: s.process,
    host: s.host,
    pid: s.pid,
    startedAt: s.startedAt,
    reportedAt: s.at,
    lookups: num(s.cache.lookups),
    hits: num(s.cache.hits),
    misses: num(s.cache.misses),
    tiers: Object.fromEntries(s.tiers.map((t) => [t.name, { hits: num(t.hits), misses: num(t.misses) }])),
  }));
}

/**
 * Writes this process's snapshot to the counter store every `intervalMs`, and once more at
 * close. Errors are logged once per outage, never thrown.
 */
export class FleetReporter {
  private readonly identity = { process: newProcessId(), startedAt: Date.now() };
  private readonly timer: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly manager: Manager,
    private readonly store: FleetStore,
    private readonly savings: SavingsSource,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.report(), intervalMs);
    this.timer.unref();
  }

  /** Writes one snapshot now; reports never overlap (a slow store delays the next one). A failure
   * is the store's tier failing: counted and logged once by its guarded tier, never thrown. */
  report(): Promise<void> {
    this.pending = this.pending.then(() => {
      const snapshot = takeSnapshot(this.manager, this.identity, this.savings);
      return this.store.publish(this.identity.process, JSON.stringify(snapshot), snapshot.at);
    });
    return this.pending;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.report();
  }
}

/** Every live process's snapshot; undefined when the store cannot be read. */
export async function readSnapshots(store: FleetStore, now: number): Promise<CountersSnapshot[] | undefined> {
  const rows = await store.read(now - FLEET_RETENTION_MS);
  return rows && parseSnapshots(rows);
}
