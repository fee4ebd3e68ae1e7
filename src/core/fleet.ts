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
 *
 * A snapshot also carries what the dashboard's namespace and semantic panels show
 * (fleet-usage.ts: each process's top namespaces plus `other`, each similarity tier's
 * histogram, refusals and error bound), as optional fields of the same version 1: a snapshot
 * without them (an older process in the same fleet) still counts in every sum and is left out of
 * those panels only, and an older reader ignores them. A row that is not a snapshot this version
 * can read (damaged, larger than MAX_SNAPSHOT_CHARS, a newer version) is skipped and counted.
 */
import { hostname } from 'node:os';
import type { TokenUsage } from './entry.js';
import {
  FleetUsage,
  type NamespacesSnapshot,
  readNamespaces,
  readSemantic,
  type SemanticSnapshot,
} from './fleet-usage.js';
import type { Manager } from './manager.js';
import type { FleetStore, LatencyHistograms, StatsReport, TierReport } from './reports.js';
import {
  type HistogramData,
  LatencyHistogram,
  type LatencySummary,
  SimilarityStats,
  TIER_COUNTER_FIELDS,
} from './stats.js';
import { FLEET_RETENTION_MS, FLEET_ROW_MAX_CHARS } from './tier.js';

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
  /** The top namespaces by lookups and the rest summed (fleet-usage.ts); absent from older versions. */
  namespaces?: NamespacesSnapshot;
  /** Each similarity tier's histogram, refusals and error bound; absent from older versions. */
  semantic?: SemanticSnapshot[];
}

/** A stored row longer than this is not read (a snapshot is a few KB; fleet-usage.ts bounds it). */
export const MAX_SNAPSHOT_CHARS = FLEET_ROW_MAX_CHARS;

export function newProcessId(): string {
  return `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

/** Tokens saved per model, as this process counted them (monitor/savings.ts's Savings). */
export interface SavingsSource {
  report(): { models: Array<{ model: string; hits: number; inputTokens: number; outputTokens: number }> };
  /** Counts one hit; returns its model. */
  record(llmString: string, usage: TokenUsage | undefined): { model: string };
  /** The model of an llm string. */
  model(llmString: string): string;
}

export function takeSnapshot(
  manager: Manager,
  identity: { process: string; startedAt: number },
  savings: Pick<SavingsSource, 'report'>,
  usage?: { namespaces: NamespacesSnapshot; semantic: SemanticSnapshot[] },
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
    ...(usage ? { namespaces: usage.namespaces, semantic: usage.semantic } : {}),
  };
}

/** The dashboard's history buckets share the store (monitor/history-store.ts): not snapshots, not skipped. */
const HISTORY_KIND = 'strata-history';

/**
 * Parses stored rows: the snapshots, and how many rows were skipped (damaged, too long, of a
 * newer version, not a snapshot, counters that no process could have counted, or, given `now`,
 * taken in the future or longer ago than the retention). History buckets are neither. The
 * namespace and semantic parts are checked field by field: a malformed one is left out, the
 * counters still count.
 */
export function parseRows(
  rows: readonly string[],
  now?: number,
): { snapshots: CountersSnapshot[]; skipped: number } {
  const snapshots: CountersSnapshot[] = [];
  let skipped = 0;
  for (const row of rows) {
    if (typeof row !== 'string' || row.length === 0 || row.length > MAX_SNAPSHOT_CHARS) {
      skipped++;
      continue;
    }
    let s: CountersSnapshot & { kind?: unknown };
    try {
      s = JSON.parse(row) as CountersSnapshot & { kind?: unknown };
    } catch {
      skipped++;
      continue;
    }
    if (s?.kind === HISTORY_KIND) continue;
    const cache = s?.cache as unknown;
    if (
      s?.v !== 1 ||
      !sane(s, 0) ||
      typeof s.process !== 'string' ||
      !isObject(cache) ||
      !Array.isArray(s.tiers) ||
      !s.tiers.every((t) => isObject(t) && typeof t.name === 'string' && plausible(t, TIER_FIELDS)) ||
      !plausible(cache, CACHE_FIELDS) ||
      (now !== undefined &&
        !(typeof s.at === 'number' && s.at >= now - FLEET_RETENTION_MS && s.at <= now + MAX_SKEW_MS))
    ) {
      skipped++;
      continue;
    }
    const { namespaces, semantic, ...counters } = s;
    const ns = readNamespaces(namespaces);
    const sem = readSemantic(semantic);
    snapshots.push({
      ...counters,
      cache: { ...counters.cache, lookup: histogram(counters.cache.lookup) },
      tiers: counters.tiers.map((t) => ({
        ...t,
        type: typeof t.type === 'string' ? t.type : 'unknown',
        get: histogram(t.get),
        set: histogram(t.set),
        similarity: isObject(t.similarity) ? t.similarity : { count: 0, sum: 0, min: 1 },
      })),
      savings: Array.isArray(counters.savings)
        ? counters.savings.filter((m) => isObject(m) && typeof m.model === 'string')
        : [],
      ...(ns ? { namespaces: ns } : {}),
      ...(sem ? { semantic: sem } : {}),
    });
  }
  return { snapshots, skipped };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Counters a process could have counted: each absent (an older version) or a whole number from 0
 * to 2^53. A row with 1e308 lookups, or -5, would otherwise be summed into every total.
 */
function plausible(counters: Record<string, unknown>, fields: readonly string[]): boolean {
  return fields.every(
    (f) => counters[f] === undefined || (Number.isSafeInteger(counters[f]) && (counters[f] as number) >= 0),
  );
}

/**
 * Every number in the row is one a process could have written: finite and within ±2^53 (counts,
 * token totals, histogram buckets, similarity sums all are), and the row nests no deeper than a
 * snapshot does. One 1e308 anywhere (a saved-token total, a histogram bucket) would otherwise
 * swamp the fleet's sums, and the parts read field by field (fleet-usage.ts) only zero what is
 * malformed, not what is merely huge.
 */
function sane(value: unknown, depth: number): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER;
  if (typeof value !== 'object' || value === null) return true;
  if (depth > MAX_ROW_DEPTH) return false;
  const items = Array.isArray(value) ? value : Object.values(value);
  return items.every((v) => sane(v, depth + 1));
}

/** A snapshot nests 6 levels deep (namespaces.top[i].tokens[j][k]); rows deeper than this are not one. */
const MAX_ROW_DEPTH = 12;

/** A report stamped later than this past the reader's clock is not from a live process (clock skew aside). */
const MAX_SKEW_MS = 5 * 60_000;

/** A histogram as another process wrote it, or an empty one (its buckets are checked by merge). */
function histogram(v: unknown): HistogramData {
  if (!isObject(v) || !Array.isArray(v.buckets)) return { buckets: [], sumMs: 0 };
  const buckets = v.buckets.filter((b): b is [number, number] => Array.isArray(b) && b.length === 2);
  return { buckets, sumMs: typeof v.sumMs === 'number' ? v.sumMs : 0 };
}

/** Parses stored rows, dropping what is not a snapshot (a row written by a newer version, damage). */
export function parseSnapshots(rows: readonly string[]): CountersSnapshot[] {
  return parseRows(rows).snapshots;
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
  /** The namespaces looked up here and the similarity of similarity hits (fleet-usage.ts). */
  private readonly usage = new FleetUsage();
  private readonly onHit: (e: {
    key: { namespace: string; llmString: string };
    tier: string;
    similarity?: number;
    usage?: TokenUsage;
  }) => void;
  private readonly onMiss: (e: { key: { namespace: string; llmString: string } }) => void;

  /** `similarityTiers`: the tiers whose refusals and error bound the snapshot carries (their stats are read at each report). */
  constructor(
    private readonly manager: Manager,
    private readonly store: FleetStore,
    private readonly savings: SavingsSource,
    intervalMs: number,
    private readonly similarityTiers: readonly string[] = [],
  ) {
    this.onHit = (e) => {
      const { model } = this.savings.record(e.key.llmString, e.usage);
      this.usage.lookup(e.key.namespace, true, model, e.usage?.inputTokens ?? 0, e.usage?.outputTokens ?? 0);
      if (e.similarity !== undefined) this.usage.similarHit(e.tier, e.similarity);
    };
    this.onMiss = (e) => this.usage.lookup(e.key.namespace, false);
    manager.events.on('hit', this.onHit);
    manager.events.on('miss', this.onMiss);
    this.timer = setInterval(() => void this.report(), intervalMs);
    this.timer.unref();
  }

  /** Writes one snapshot now; reports never overlap (a slow store delays the next one). A failure
   * is the store's tier failing: counted and logged once by its guarded tier, never thrown. */
  report(): Promise<void> {
    this.pending = this.pending.then(async () => {
      // The similarity tiers' own stats (refusals, bound), each under its tier's policy.
      const stats = await Promise.all(
        this.similarityTiers.map((name) => this.manager.queries.tierStats(name)),
      );
      const usage = {
        namespaces: this.usage.namespaces(),
        semantic: this.similarityTiers.map((name, i) => this.usage.semantic(name, stats[i])),
      };
      const snapshot = takeSnapshot(this.manager, this.identity, this.savings, usage);
      return this.store.publish(this.identity.process, JSON.stringify(snapshot), snapshot.at);
    });
    return this.pending;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.manager.events.off('hit', this.onHit);
    this.manager.events.off('miss', this.onMiss);
    await this.report();
  }
}

/** Every live process's snapshot, and how many rows were skipped; undefined when the store cannot be read. */
export async function readFleet(
  store: FleetStore,
  now: number,
): Promise<{ snapshots: CountersSnapshot[]; skipped: number } | undefined> {
  const rows = await store.read(now - FLEET_RETENTION_MS);
  return rows && parseRows(rows, now);
}

/** Every live process's snapshot; undefined when the store cannot be read. */
export async function readSnapshots(store: FleetStore, now: number): Promise<CountersSnapshot[] | undefined> {
  return (await readFleet(store, now))?.snapshots;
}
