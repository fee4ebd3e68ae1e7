/**
 * What Strata's metrics carry, without any metrics library: the catalogue of metric families
 * (METRIC_FAMILIES) and the samples of one collection (samplesOf), computed from the cache's own
 * statistics at collection time, so nothing is counted twice on the hit path. prom-client
 * renders them for /metrics (metrics.ts); otel-metrics.ts observes the same samples through
 * OpenTelemetry (`monitoring.metrics: "otel"`). Totals are counters (`_total`), latencies are
 * summaries' quantiles as gauges and histograms of the manager's log-bucketed latencies, and
 * every per-tier series carries a `tier` label.
 */
import type { HealthReport, LatencyHistograms, StatsReport } from '../core/reports.js';
import { type CumulativeLatency, TIER_COUNTER_FIELDS } from '../core/stats.js';
import { LABEL_SOURCES } from '../core/tier.js';
import { type BoundRow, boundOf, boundRows } from './bound.js';
import type { ModelSavings } from './savings.js';

/** Upper bounds of the latency histograms, ms (exported in seconds, as Prometheus prefers). */
export const LATENCY_BOUNDS_MS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000,
] as const;

export interface MetricFamily {
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  /** Label names (a histogram's series add `le` to the bucket). */
  readonly labels: readonly string[];
}

const TIER = ['tier', 'type'] as const;
const NS = ['tier', 'namespace'] as const;

/**
 * Every metric family the monitor exports, by name: the one list /metrics, the OpenTelemetry
 * instruments and the Grafana dashboard's test read. The gateway adds its own three
 * (`strata_proxy_*`, src/proxy/metrics.ts).
 */
export const METRIC_FAMILIES = {
  strata_lookups_total: { type: 'counter', help: 'Lookups', labels: [] },
  strata_hits_total: { type: 'counter', help: 'Lookups answered from any tier', labels: [] },
  strata_misses_total: { type: 'counter', help: 'Lookups no tier answered', labels: [] },
  strata_updates_total: { type: 'counter', help: 'Answers stored', labels: [] },
  strata_coalesced_total: {
    type: 'counter',
    help: 'Lookups that waited for a concurrent identical request',
    labels: [],
  },
  strata_stale_total: {
    type: 'counter',
    help: 'Expired answers served because the model call failed (stale-if-error)',
    labels: [],
  },
  strata_hit_ratio: { type: 'gauge', help: 'Hits / lookups since start', labels: [] },
  strata_in_flight: { type: 'gauge', help: 'Misses whose answer is being computed', labels: [] },
  strata_lookup_latency_ms: {
    type: 'gauge',
    help: 'Lookup latency quantiles since start',
    labels: ['quantile'],
  },
  ...(Object.fromEntries(
    TIER_COUNTER_FIELDS.map((field) => [
      `strata_tier_${field}_total`,
      { type: 'counter', help: `Tier ${field}`, labels: TIER },
    ]),
  ) as unknown as Record<`strata_tier_${(typeof TIER_COUNTER_FIELDS)[number]}_total`, MetricFamily>),
  strata_tier_breaker_state: {
    type: 'gauge',
    help: 'Circuit breaker state (1 = current)',
    labels: [...TIER, 'state'],
  },
  strata_tier_latency_ms: {
    type: 'gauge',
    help: 'Tier call latency quantiles since start',
    labels: [...TIER, 'op', 'quantile'],
  },
  strata_tier_entries: { type: 'gauge', help: 'Entries the tier holds', labels: TIER },
  strata_tier_bytes: { type: 'gauge', help: 'Bytes of entries the tier holds', labels: TIER },
  strata_tier_hit_similarity_mean: {
    type: 'gauge',
    help: 'Mean cosine similarity of similar-prompt hits',
    labels: TIER,
  },
  strata_semantic_error_bound: {
    type: 'gauge',
    help: 'The bound on the share of wrong semantic hits (maxErrorRate)',
    labels: NS,
  },
  strata_semantic_error_rate: {
    type: 'gauge',
    help: 'Estimated share of wrong hits among what the tier serves, with its 95% interval (bound: estimate, low, high)',
    labels: [...NS, 'bound'],
  },
  strata_semantic_lookups_total: {
    type: 'counter',
    help: 'Lookups that reached the semantic tier',
    labels: NS,
  },
  strata_semantic_hits_total: { type: 'counter', help: 'Lookups the semantic tier answered', labels: NS },
  strata_semantic_labels_total: {
    type: 'counter',
    help: 'Labels the semantic tier learned from, by source',
    labels: [...NS, 'source'],
  },
  strata_semantic_explorations_total: {
    type: 'counter',
    help: 'Candidate hits sent to the model instead, to check them',
    labels: NS,
  },
  strata_semantic_exploration_budget: {
    type: 'gauge',
    help: 'The cap on explorations, as a share of lookups',
    labels: NS,
  },
  strata_semantic_cutoff: {
    type: 'gauge',
    help: "The similarity from which the namespace's shared evidence serves",
    labels: NS,
  },
  strata_tier_up: { type: 'gauge', help: 'Tier health (1 up, 0.5 degraded, 0 down)', labels: TIER },
  strata_saved_hits_total: { type: 'counter', help: 'Hits per model', labels: ['model'] },
  strata_saved_tokens_total: {
    type: 'counter',
    help: 'Tokens the served answers cost when generated',
    labels: ['model', 'direction'],
  },
  strata_saved_cost_usd_total: {
    type: 'counter',
    help: 'USD the served answers cost when generated (configured prices)',
    labels: ['model'],
  },
  strata_lookup_duration_seconds: {
    type: 'histogram',
    help: 'Lookup latency (log-bucketed, ~9% resolution)',
    labels: [],
  },
  strata_tier_duration_seconds: {
    type: 'histogram',
    help: 'Tier call latency (log-bucketed, ~9% resolution)',
    labels: [...TIER, 'op'],
  },
} as const satisfies Record<string, MetricFamily>;

export type FamilyName = keyof typeof METRIC_FAMILIES;

/** The series names a family's samples carry: a histogram's `_bucket`, `_sum` and `_count`. */
export function seriesNames(name: string, family: MetricFamily): string[] {
  return family.type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
}

/** One value of one series: `name` is the series' (a histogram's `_bucket`, `_sum`, `_count`). */
export interface Sample {
  readonly family: FamilyName;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;

export interface SampleOptions {
  hideNamespaces?: boolean;
  bound?: ReadonlyMap<string, readonly BoundRow[]>;
}

/** What one scrape carries, in the order /metrics writes it. */
export function samplesOf(
  stats: StatsReport,
  health: HealthReport,
  savings: readonly ModelSavings[],
  histograms: LatencyHistograms,
  /** `bound`: the error bound's rows per tier to show instead of the tiers' own (the fleet's). */
  options: SampleOptions = {},
): Sample[] {
  const out: Sample[] = [];
  const put = (family: FamilyName, value: number, labels: Record<string, string> = {}) =>
    out.push({ family, name: family, labels, value });
  put('strata_lookups_total', stats.lookups);
  put('strata_hits_total', stats.hits);
  put('strata_misses_total', stats.misses);
  put('strata_updates_total', stats.updates);
  put('strata_coalesced_total', stats.coalesced);
  put('strata_stale_total', stats.stale);
  put('strata_hit_ratio', stats.hitRate);
  put('strata_in_flight', stats.inFlight);
  put('strata_lookup_latency_ms', stats.lookup.p50Ms, { quantile: '0.5' });
  put('strata_lookup_latency_ms', stats.lookup.p99Ms, { quantile: '0.99' });
  for (const t of stats.tiers) {
    const labels = { tier: t.name, type: t.type };
    for (const field of TIER_COUNTER_FIELDS) put(`strata_tier_${field}_total`, t[field], labels);
    for (const state of BREAKER_STATES)
      put('strata_tier_breaker_state', t.breaker === state ? 1 : 0, { ...labels, state });
    for (const [op, summary] of [
      ['get', t.get],
      ['set', t.set],
    ] as const) {
      put('strata_tier_latency_ms', summary.p50Ms, { ...labels, op, quantile: '0.5' });
      put('strata_tier_latency_ms', summary.p99Ms, { ...labels, op, quantile: '0.99' });
    }
    if (t.store) {
      put('strata_tier_entries', t.store.entries, labels);
      put('strata_tier_bytes', t.store.bytes, labels);
    }
    if (t.similarity) put('strata_tier_hit_similarity_mean', t.similarity.mean, labels);
  }
  for (const t of stats.tiers) {
    const bound = boundOf(t.store);
    const rows = options.bound ? options.bound.get(t.name) : bound && boundRows(bound, options);
    if (rows) boundSamples(put, t.name, rows);
  }
  for (const h of health.tiers) {
    put('strata_tier_up', h.status === 'up' ? 1 : h.status === 'degraded' ? 0.5 : 0, {
      tier: h.name,
      type: h.type,
    });
  }
  for (const s of savings) {
    put('strata_saved_hits_total', s.hits, { model: s.model });
    put('strata_saved_tokens_total', s.inputTokens, { model: s.model, direction: 'input' });
    put('strata_saved_tokens_total', s.outputTokens, { model: s.model, direction: 'output' });
    put('strata_saved_cost_usd_total', s.cost, { model: s.model });
  }
  histogramSamples(out, 'strata_lookup_duration_seconds', {}, histograms.lookup);
  for (const t of histograms.tiers) {
    histogramSamples(out, 'strata_tier_duration_seconds', { tier: t.name, type: t.type, op: 'get' }, t.get);
    histogramSamples(out, 'strata_tier_duration_seconds', { tier: t.name, type: t.type, op: 'set' }, t.set);
  }
  return out;
}

/**
 * The manager's latency histograms as Prometheus histograms: cumulative bucket counts (bounds in
 * seconds), sum and count, counted on the hit path already (log-bucketed, ~9% resolution; see
 * stats.ts), so nothing here observes a value again.
 */
function histogramSamples(
  out: Sample[],
  family: FamilyName,
  labels: Record<string, string>,
  c: CumulativeLatency,
): void {
  LATENCY_BOUNDS_MS.forEach((bound, i) => {
    out.push({
      family,
      name: `${family}_bucket`,
      labels: { ...labels, le: String(bound / 1000) },
      value: c.counts[i]!,
    });
  });
  out.push({ family, name: `${family}_bucket`, labels: { ...labels, le: '+Inf' }, value: c.count });
  out.push({ family, name: `${family}_sum`, labels, value: c.sumMs / 1000 });
  out.push({ family, name: `${family}_count`, labels, value: c.count });
}

/** A semantic tier's error bound per namespace (bound.ts): unknown values (null) are left out, never NaN. */
function boundSamples(
  put: (family: FamilyName, value: number, labels: Record<string, string>) => void,
  tier: string,
  rows: readonly BoundRow[],
): void {
  for (const r of rows) {
    const labels = { tier, namespace: r.namespace };
    if (r.maxErrorRate !== null) put('strata_semantic_error_bound', r.maxErrorRate, labels);
    for (const [bound, value] of [
      ['estimate', r.errorRate],
      ['low', r.errorLow],
      ['high', r.errorHigh],
    ] as const) {
      if (value !== null) put('strata_semantic_error_rate', value, { ...labels, bound });
    }
    put('strata_semantic_lookups_total', r.lookups, labels);
    put('strata_semantic_hits_total', r.hits, labels);
    for (const source of LABEL_SOURCES)
      put('strata_semantic_labels_total', r.labels[source], { ...labels, source });
    put('strata_semantic_explorations_total', r.explorations, labels);
    if (r.explorationBudget !== null) put('strata_semantic_exploration_budget', r.explorationBudget, labels);
    if (r.cutoff !== null) put('strata_semantic_cutoff', r.cutoff, labels);
  }
}
