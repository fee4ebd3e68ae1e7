/**
 * Prometheus metrics (prom-client), set from the cache's own statistics at scrape time: the
 * manager already counts everything, so nothing is counted twice on the hit path. Totals are
 * counters (`_total`), latencies are summaries' quantiles as gauges (the manager's log-bucketed
 * histograms give p50 and p99 directly), and every per-tier series carries a `tier` label.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { HealthReport, LatencyHistograms, StatsReport } from '../core/reports.js';
import { type CumulativeLatency, TIER_COUNTER_FIELDS } from '../core/stats.js';
import { LABEL_SOURCES } from '../core/tier.js';

/** Upper bounds of the latency histograms, ms (exported in seconds, as Prometheus prefers). */
export const LATENCY_BOUNDS_MS = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000,
] as const;

/**
 * The manager's latency histograms as Prometheus histograms. They are written as text, because
 * prom-client's Histogram only counts observations itself, and these were counted on the hit path
 * already (log-bucketed, ~9% resolution; see stats.ts).
 */
function histogramText(h: LatencyHistograms): string {
  const lines: string[] = [];
  const emit = (name: string, labels: Record<string, string>, c: CumulativeLatency) => {
    const base = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    const with_ = (extra: string[]) => (extra.length === 0 ? '' : `{${extra.join(',')}}`);
    LATENCY_BOUNDS_MS.forEach((bound, i) => {
      lines.push(`${name}_bucket${with_([...base, `le="${bound / 1000}"`])} ${c.counts[i]}`);
    });
    lines.push(`${name}_bucket${with_([...base, 'le="+Inf"'])} ${c.count}`);
    lines.push(`${name}_sum${with_(base)} ${c.sumMs / 1000}`);
    lines.push(`${name}_count${with_(base)} ${c.count}`);
  };
  lines.push('# HELP strata_lookup_duration_seconds Lookup latency (log-bucketed, ~9% resolution)');
  lines.push('# TYPE strata_lookup_duration_seconds histogram');
  emit('strata_lookup_duration_seconds', {}, h.lookup);
  lines.push('# HELP strata_tier_duration_seconds Tier call latency (log-bucketed, ~9% resolution)');
  lines.push('# TYPE strata_tier_duration_seconds histogram');
  for (const t of h.tiers) {
    emit('strata_tier_duration_seconds', { tier: t.name, type: t.type, op: 'get' }, t.get);
    emit('strata_tier_duration_seconds', { tier: t.name, type: t.type, op: 'set' }, t.set);
  }
  return `${lines.join('\n')}\n`;
}

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

import { type BoundRow, boundOf, boundRows } from './bound.js';
import type { ModelSavings } from './savings.js';

const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;

const TIER_COUNTERS = TIER_COUNTER_FIELDS;

export class Metrics {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for one scrape. */
  async render(
    stats: StatsReport,
    health: HealthReport,
    savings: ModelSavings[],
    histograms: LatencyHistograms,
    /** `bound`: the error bound's rows per tier to show instead of the tiers' own (the fleet's). */
    options: { hideNamespaces?: boolean; bound?: ReadonlyMap<string, readonly BoundRow[]> } = {},
  ): Promise<string> {
    this.registry.resetMetrics();
    this.total('strata_lookups_total', 'Lookups', [], stats.lookups);
    this.total('strata_hits_total', 'Lookups answered from any tier', [], stats.hits);
    this.total('strata_misses_total', 'Lookups no tier answered', [], stats.misses);
    this.total('strata_updates_total', 'Answers stored', [], stats.updates);
    this.total(
      'strata_coalesced_total',
      'Lookups that waited for a concurrent identical request',
      [],
      stats.coalesced,
    );
    this.total(
      'strata_stale_total',
      'Expired answers served because the model call failed (stale-if-error)',
      [],
      stats.stale,
    );
    this.gauge('strata_hit_ratio', 'Hits / lookups since start', [], stats.hitRate);
    this.gauge('strata_in_flight', 'Misses whose answer is being computed', [], stats.inFlight);
    for (const [quantile, value] of [
      ['0.5', stats.lookup.p50Ms],
      ['0.99', stats.lookup.p99Ms],
    ] as const) {
      this.gauge('strata_lookup_latency_ms', 'Lookup latency quantiles since start', ['quantile'], value, {
        quantile,
      });
    }
    for (const t of stats.tiers) {
      const labels = { tier: t.name, type: t.type };
      for (const field of TIER_COUNTERS) {
        this.total(`strata_tier_${field}_total`, `Tier ${field}`, ['tier', 'type'], t[field], labels);
      }
      for (const state of BREAKER_STATES) {
        this.gauge(
          'strata_tier_breaker_state',
          'Circuit breaker state (1 = current)',
          ['tier', 'type', 'state'],
          t.breaker === state ? 1 : 0,
          {
            ...labels,
            state,
          },
        );
      }
      for (const [op, summary] of [
        ['get', t.get],
        ['set', t.set],
      ] as const) {
        for (const [quantile, value] of [
          ['0.5', summary.p50Ms],
          ['0.99', summary.p99Ms],
        ] as const) {
          this.gauge(
            'strata_tier_latency_ms',
            'Tier call latency quantiles since start',
            ['tier', 'type', 'op', 'quantile'],
            value,
            {
              ...labels,
              op,
              quantile,
            },
          );
        }
      }
      if (t.store) {
        this.gauge(
          'strata_tier_entries',
          'Entries the tier holds',
          ['tier', 'type'],
          t.store.entries,
          labels,
        );
        this.gauge(
          'strata_tier_bytes',
          'Bytes of entries the tier holds',
          ['tier', 'type'],
          t.store.bytes,
          labels,
        );
      }
      if (t.similarity) {
        this.gauge(
          'strata_tier_hit_similarity_mean',
          'Mean cosine similarity of similar-prompt hits',
          ['tier', 'type'],
          t.similarity.mean,
          labels,
        );
      }
    }
    for (const t of stats.tiers) {
      const bound = boundOf(t.store);
      const rows = options.bound ? options.bound.get(t.name) : bound && boundRows(bound, options);
      if (rows) this.bound(t.name, rows);
    }
    for (const h of health.tiers) {
      this.gauge(
        'strata_tier_up',
        'Tier health (1 up, 0.5 degraded, 0 down)',
        ['tier', 'type'],
        h.status === 'up' ? 1 : h.status === 'degraded' ? 0.5 : 0,
        {
          tier: h.name,
          type: h.type,
        },
      );
    }
    for (const s of savings) {
      this.total('strata_saved_hits_total', 'Hits per model', ['model'], s.hits, { model: s.model });
      for (const [direction, tokens] of [
        ['input', s.inputTokens],
        ['output', s.outputTokens],
      ] as const) {
        this.total(
          'strata_saved_tokens_total',
          'Tokens the served answers cost when generated',
          ['model', 'direction'],
          tokens,
          { model: s.model, direction },
        );
      }
      this.total(
        'strata_saved_cost_usd_total',
        'USD the served answers cost when generated (configured prices)',
        ['model'],
        s.cost,
        {
          model: s.model,
        },
      );
    }
    return (await this.registry.metrics()) + histogramText(histograms);
  }

  /** A semantic tier's error bound per namespace (bound.ts): unknown values (null) are left out, never NaN. */
  private bound(tier: string, rows: readonly BoundRow[]): void {
    const ns = ['tier', 'namespace'];
    for (const r of rows) {
      const labels = { tier, namespace: r.namespace };
      if (r.maxErrorRate !== null)
        this.gauge(
          'strata_semantic_error_bound',
          'The bound on the share of wrong semantic hits (maxErrorRate)',
          ns,
          r.maxErrorRate,
          labels,
        );
      for (const [bound, value] of [
        ['estimate', r.errorRate],
        ['low', r.errorLow],
        ['high', r.errorHigh],
      ] as const) {
        if (value === null) continue;
        this.gauge(
          'strata_semantic_error_rate',
          'Estimated share of wrong hits among what the tier serves, with its 95% interval (bound: estimate, low, high)',
          [...ns, 'bound'],
          value,
          { ...labels, bound },
        );
      }
      this.total(
        'strata_semantic_lookups_total',
        'Lookups that reached the semantic tier',
        ns,
        r.lookups,
        labels,
      );
      this.total('strata_semantic_hits_total', 'Lookups the semantic tier answered', ns, r.hits, labels);
      for (const source of LABEL_SOURCES)
        this.total(
          'strata_semantic_labels_total',
          'Labels the semantic tier learned from, by source',
          [...ns, 'source'],
          r.labels[source],
          { ...labels, source },
        );
      this.total(
        'strata_semantic_explorations_total',
        'Candidate hits sent to the model instead, to check them',
        ns,
        r.explorations,
        labels,
      );
      if (r.explorationBudget !== null)
        this.gauge(
          'strata_semantic_exploration_budget',
          'The cap on explorations, as a share of lookups',
          ns,
          r.explorationBudget,
          labels,
        );
      if (r.cutoff !== null)
        this.gauge(
          'strata_semantic_cutoff',
          "The similarity from which the namespace's shared evidence serves",
          ns,
          r.cutoff,
          labels,
        );
    }
  }

  private total(
    name: string,
    help: string,
    labelNames: string[],
    value: number,
    labels: Record<string, string> = {},
  ): void {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter({ name, help, labelNames, registers: [this.registry] });
      this.counters.set(name, c);
    }
    c.inc(labels, value);
  }

  private gauge(
    name: string,
    help: string,
    labelNames: string[],
    value: number,
    labels: Record<string, string> = {},
  ): void {
    let g = this.gauges.get(name);
    if (!g) {
      g = new Gauge({ name, help, labelNames, registers: [this.registry] });
      this.gauges.set(name, g);
    }
    g.set(labels, value);
  }
}
