/**
 * Monitoring for one cache: Prometheus metrics, savings, a time series for the dashboard, and
 * alerts with their sinks (log, webhook, events). `strata serve` puts it behind HTTP;
 * applications can use it directly:
 *
 *   const monitor = createMonitor(cache, config.monitoring);
 *   monitor.alerts.on('alert', (a) => ...);
 *   res.end(await monitor.metrics());
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { type MonitoringConfig, monitoringSchema } from '../config/schema.js';
import { errorOf } from '../core/error-of.js';
import type { Logger } from '../core/events.js';
import {
  type CountersSnapshot,
  fleetHistograms,
  fleetReport,
  fleetSavings,
  type ProcessCounters,
  perProcess,
  readFleet,
} from '../core/fleet.js';
import { type BoundUsage, mergeNamespaces, mergeSemantic } from '../core/fleet-usage.js';
import type { StatsReport } from '../core/reports.js';
import { engineOf, type StrataSource } from '../engine/strata.js';
import { tierTypesWith } from '../tiers/index.js';
import { type Alert, Alerter } from './alerts.js';
import { type BoundRow, boundOf, boundRows } from './bound.js';
import { History, type Series, type SeriesPoint, type SeriesRange } from './history.js';
import { persistBucket, restoreHistory } from './history-store.js';
import { Insights, OTHER, type TierSince, type UsageRow } from './insights.js';
import { LATENCY_BOUNDS_MS, samplesOf } from './metric-families.js';
import type { Metrics } from './metrics.js';
import { startOtelMetrics } from './otel-metrics.js';
import { Savings } from './savings.js';

export type { Series, SeriesPoint, SeriesRange } from './history.js';

/** prom-client's text exposition format (Registry.PROMETHEUS_CONTENT_TYPE). */
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface Monitor {
  readonly alerts: Alerter;
  readonly contentType: string;
  /** Counters and, unless `store: false`, what the tiers hold: the fleet's sum in fleet mode. */
  stats(options?: { store?: boolean }): Promise<StatsReport>;
  /**
   * Stats, savings and (`byProcess`) each process's counters, from one read of the fleet's rows;
   * in fleet mode, `skippedRows`: stored rows that were not snapshots this version reads.
   */
  report(options?: { byProcess?: boolean }): Promise<{
    stats: StatsReport;
    savings: ReturnType<Savings['report']>;
    processes?: ProcessCounters[];
    skippedRows?: number;
  }>;
  /** Whether the counters shown are the sum over every process sharing the cache. */
  readonly fleet: boolean;
  /** The Prometheus text; `hideNamespaces`: namespace labels by rank (`namespace 1`, ...), not by name (bound.ts). */
  metrics(options?: { hideNamespaces?: boolean }): Promise<string>;
  /** The dashboard's time series over one range (history.ts); 7 days include persisted days. */
  series(range?: SeriesRange): Promise<Series>;
  /** The dashboard's panels: top namespaces and models, the semantic tiers, each tier's health since when. */
  panels(options?: { hideNamespaces?: boolean }): Promise<Panels>;
  close(): void;
}

export interface Panels {
  /**
   * By lookups: this process's own, or in fleet mode the fleet's (core/fleet-usage.ts: the names
   * the processes report, the rest as `(other)`). Models are this process's own.
   */
  namespaces: UsageRow[];
  models: UsageRow[];
  /**
   * Per similarity tier: the similarity of its hits (histogram), lookups it refused, by guard,
   * and with `maxErrorRate` what it has learned per namespace (bound.ts: the top namespaces by
   * lookups, the rest as `(other)`).
   */
  semantic: Array<{
    tier: string;
    similarity: { from: number; bin: number; counts: number[] } | undefined;
    refusals: Record<string, number>;
    bound?: BoundRow[];
  }>;
  health: TierSince[];
  /**
   * In fleet mode: how many processes reported and how many of them reported namespaces and
   * semantic matching (an older version does not), which the namespace and semantic panels sum.
   */
  fleet?: { processes: number; reporting: number };
}

interface Overview {
  stats: StatsReport;
  savings: ReturnType<Savings['report']>;
  /** The rows read, in fleet mode. */
  fleet: CountersSnapshot[] | undefined;
  /** Stored rows skipped as not snapshots (damaged, too long, newer), in fleet mode. */
  skipped?: number;
}

export interface MonitorOptions {
  logger?: Logger;
  fetch?: typeof fetch;
  /**
   * Show the sum of every process's counters, read from the shared tier they report to
   * (core/fleet.ts), instead of this process's own. Needs a tier that holds counters; `strata
   * serve` turns it on.
   */
  fleet?: boolean;
  /** More Prometheus text appended to every scrape (the gateway's per-route counters). */
  extraMetrics?: () => string;
}

/**
 * `engine`: the engine (`createStrata`), or a StrataCache over it. With `config.metrics: "otel"`
 * the metrics are also observed through OpenTelemetry's global MeterProvider (otel-metrics.ts);
 * @opentelemetry/api missing is then a StrataConfigError, thrown here.
 */
export function createMonitor(
  engine: StrataSource,
  config: Omit<MonitoringConfig, 'reportSeconds'> = monitoringSchema.parse({}),
  options: MonitorOptions = {},
): Monitor {
  const manager = engineOf(engine);
  const logger = options.logger ?? { warn: (m: string) => console.warn(m) };
  const localSavings = new Savings(config.prices);
  // prom-client is loaded at the first scrape, not when the package is imported.
  let metrics: Promise<{ render: Metrics['render']; bounds: readonly number[] }> | undefined;
  const loadMetrics = () => {
    metrics ??= import('./metrics.js').then(({ Metrics, LATENCY_BOUNDS_MS }) => {
      const m = new Metrics();
      return { render: m.render.bind(m), bounds: LATENCY_BOUNDS_MS };
    });
    return metrics;
  };
  const target = options.fleet ? manager.queries.fleetStore() : undefined;
  /** The fleet's snapshots; undefined when not in fleet mode or the store cannot be read (then: this process's). */
  const snapshots = async () => (target ? readFleet(target, manager.now()) : undefined);
  /** Stats and savings from one read of the fleet's rows (a scrape or an API call reads them once). */
  const overview = async (o: { store?: boolean } = {}): Promise<Overview> => {
    const [local, read] = await Promise.all([manager.stats(o), snapshots()]);
    if (!read) return { stats: local, savings: localSavings.report(), fleet: undefined };
    const fleet = read.snapshots;
    const summed = new Savings(config.prices);
    for (const m of fleetSavings(fleet)) summed.add(m);
    return { stats: fleetReport(local, fleet), savings: summed.report(), fleet, skipped: read.skipped };
  };
  const stats = async (o: { store?: boolean } = {}): Promise<StatsReport> => (await overview(o)).stats;
  // What one OpenTelemetry collection observes: the samples /metrics renders, from the same reads.
  const otel =
    config.metrics === 'otel'
      ? startOtelMetrics(
          {
            async samples() {
              const [{ stats: current, savings, fleet }, health] = await Promise.all([
                overview(),
                manager.health(),
              ]);
              const histograms = fleet
                ? fleetHistograms(fleet, LATENCY_BOUNDS_MS)
                : manager.latencyHistograms(LATENCY_BOUNDS_MS);
              const bound = fleet ? fleetBound(fleet, false) : undefined;
              return samplesOf(current, health, savings.models, histograms, bound ? { bound } : {});
            },
            ...(options.extraMetrics ? { extra: options.extraMetrics } : {}),
          },
          logger,
        )
      : undefined;
  const source = { stats, health: () => manager.health(), now: () => manager.now() };

  const a = config.alerts;
  const alerter = new Alerter(source, a?.rules ?? [], {
    forChecks: a?.forChecks ?? 1,
    clearChecks: a?.clearChecks ?? 2,
    cooldownSeconds: a?.cooldownSeconds ?? 300,
  });

  const insights = new Insights(manager.now());
  const onHit = (e: {
    key: { namespace: string; llmString: string };
    tier: string;
    latencyMs: number;
    similarity?: number;
    usage?: Parameters<Savings['record']>[1];
  }) => {
    const saved = localSavings.record(e.key.llmString, e.usage);
    insights.lookup(e.key.namespace, saved.model, true, saved.tokens, saved.cost);
    if (e.similarity !== undefined) insights.similarHit(e.tier, e.similarity);
    alerter.observeLookup(e.latencyMs);
  };
  const onMiss = (e: { key: { namespace: string; llmString: string }; latencyMs: number }) => {
    insights.lookup(e.key.namespace, localSavings.model(e.key.llmString), false);
    alerter.observeLookup(e.latencyMs);
  };
  manager.events.on('hit', onHit);
  manager.events.on('miss', onMiss);

  if (a?.log !== false) {
    // A resolution's message already begins with "resolved:".
    alerter.on('alert', (alert) =>
      logger.warn(`[strata] alert ${alert.state === 'firing' ? 'firing: ' : ''}${alert.message}`),
    );
  }
  // close() stops webhook deliveries under way: no retry after it, no request left running.
  const stopped = new AbortController();
  if (a?.webhook) {
    const hook = a.webhook;
    const post = options.fetch ?? fetch;
    alerter.on('alert', (alert) => void deliver(post, hook, alert, logger, stopped.signal));
  }
  if (a && a.rules.length > 0) alerter.start(a.intervalSeconds * 1000);

  const history = new History(manager.now());
  // In fleet mode the 5-minute buckets are kept in the fleet's store too (history-store.ts), so
  // a restarted `strata serve` still shows the last 24 hours.
  const restoring = target ? restoreHistory(target, history, manager.now()) : Promise.resolve();
  let previous: Overview | undefined;
  const sample = async () => {
    await restoring;
    const [current, health] = await Promise.all([overview({ store: false }), manager.health()]);
    insights.observeHealth(health, manager.now());
    const closed = history.add(seriesPoint(manager.now(), config.sampleSeconds * 1000, current, previous));
    previous = current;
    if (closed && target) await persistBucket(target, closed);
  };
  void sample().catch(() => {});
  const sampler = setInterval(() => void sample().catch(() => {}), config.sampleSeconds * 1000);
  sampler.unref();

  return {
    alerts: alerter,
    contentType: PROMETHEUS_CONTENT_TYPE,
    fleet: target !== undefined,
    stats,
    async report(o = {}) {
      const { stats: s, savings, fleet, skipped } = await overview();
      return {
        stats: s,
        savings,
        ...(o.byProcess ? { processes: perProcess(fleet ?? []) } : {}),
        ...(skipped === undefined ? {} : { skippedRows: skipped }),
      };
    },
    async metrics(o = {}) {
      const [{ stats: current, savings, fleet }, health, m] = await Promise.all([
        overview(),
        manager.health(),
        loadMetrics(),
      ]);
      // In fleet mode the error bound's per-namespace series are the fleet's too.
      const bound = fleet ? fleetBound(fleet, o.hideNamespaces === true) : undefined;
      const text = await m.render(
        current,
        health,
        savings.models,
        fleet ? fleetHistograms(fleet, m.bounds) : manager.latencyHistograms(m.bounds),
        { ...o, ...(bound ? { bound } : {}) },
      );
      return options.extraMetrics ? `${text}${options.extraMetrics()}` : text;
    },
    async series(range = '15m') {
      const daily = range === '7d' ? await manager.queries.daily(8) : [];
      return history.range(range, manager.now(), daily);
    },
    async panels(o = {}) {
      const [{ stats: current, fleet }, health] = await Promise.all([overview(), manager.health()]);
      insights.observeHealth(health, manager.now());
      // 50 rows, so that the page can rank them by any column and still show a true top 10.
      const own = insights.report(PANEL_ROWS);
      const panels = panelsOf(
        fleet ? fleetInsights(own, fleet, config.prices) : own,
        current,
        o.hideNamespaces === true,
      );
      if (!fleet) return panels;
      const semantic = mergeSemantic(fleet.map((s) => ({ at: s.at, semantic: s.semantic })));
      return {
        ...panels,
        semantic: panels.semantic.map((p) => {
          const f = semantic.get(p.tier);
          // The fleet's only: a process's own bound is in the fleet's once it reports.
          const { bound: _own, ...rest } = p;
          const bound = f?.bound && shownBound(f.bound, o.hideNamespaces === true);
          return { ...rest, refusals: f?.refusals ?? {}, ...(bound ? { bound } : {}) };
        }),
        fleet: { processes: fleet.length, reporting: fleet.filter((s) => s.namespaces).length },
      };
    },
    close() {
      otel?.close();
      clearInterval(sampler);
      alerter.stop();
      stopped.abort();
      manager.events.off('hit', onHit);
      manager.events.off('miss', onMiss);
    },
  };
}

/** Rows of the namespace panel: enough for the page to rank them by any column and still show a true top 10. */
const PANEL_ROWS = 50;

/**
 * This process's insights with the fleet's namespaces and similarity histograms in place of its
 * own (core/fleet-usage.ts); namespace tokens priced with this monitor's prices, like the models.
 */
function fleetInsights(
  own: ReturnType<Insights['report']>,
  fleet: readonly CountersSnapshot[],
  prices: MonitoringConfig['prices'],
): ReturnType<Insights['report']> {
  const { rows, other } = mergeNamespaces(
    fleet.map((s) => s.namespaces),
    PANEL_ROWS - 1,
  );
  const row = (name: string, c: (typeof rows)[number] | typeof other): UsageRow => {
    const saved = new Savings(prices);
    for (const [model, inputTokens, outputTokens] of c.tokens)
      saved.add({ model, hits: 0, inputTokens, outputTokens });
    const { tokens, cost } = saved.report();
    return {
      name,
      lookups: c.lookups,
      hits: c.hits,
      hitRate: c.lookups === 0 ? 0 : c.hits / c.lookups,
      savedTokens: tokens,
      savedCost: cost,
    };
  };
  const namespaces = rows.map((r) => row(r.name, r));
  if (other.lookups > 0) namespaces.push(row(OTHER, other));
  const semantic = mergeSemantic(fleet.map((s) => ({ at: s.at, semantic: s.semantic })));
  const similarity = [...semantic].flatMap(([tier, f]) => (f.similarity ? [{ tier, ...f.similarity }] : []));
  return { ...own, namespaces, similarity };
}

/** The error bound's rows per tier over the fleet, for /metrics (the same rows as the panel). */
function fleetBound(fleet: readonly CountersSnapshot[], hideNamespaces: boolean): Map<string, BoundRow[]> {
  const out = new Map<string, BoundRow[]>();
  for (const [tier, f] of mergeSemantic(fleet.map((s) => ({ at: s.at, semantic: s.semantic }))))
    if (f.bound) out.set(tier, shownBound(f.bound, hideNamespaces));
  return out;
}

/**
 * The fleet's rows (already ranked: at most FLEET_TOP_NAMESPACES, then `(other)`), named by rank
 * when namespaces are hidden, as boundRows names one process's.
 */
function shownBound(rows: readonly BoundUsage[], hideNamespaces: boolean): BoundRow[] {
  let rank = 0;
  return rows.map((r) =>
    hideNamespaces && r.namespace !== OTHER ? { ...r, namespace: `namespace ${++rank}` } : { ...r },
  );
}

/** One sample: what happened since the previous one (never negative: a process leaving the fleet sum lowers totals). */
function seriesPoint(
  at: number,
  spanMs: number,
  current: Overview,
  previous: Overview | undefined,
): SeriesPoint {
  const delta = (now: number, before: number | undefined) =>
    before === undefined ? 0 : Math.max(0, now - before);
  const now = current.stats;
  const before = previous?.stats;
  const lookups = delta(now.lookups, before?.lookups);
  const hits = Math.min(lookups, delta(now.hits, before?.hits));
  const tiers: SeriesPoint['tiers'] = {};
  for (const t of now.tiers) {
    const last = before?.tiers.find((p) => p.name === t.name);
    const tierHits = delta(t.hits, last?.hits);
    const misses = delta(t.misses, last?.misses);
    const served = t.get.count > 0;
    tiers[t.name] = {
      hits: tierHits,
      misses,
      p50Ms: served ? t.get.p50Ms : null,
      p99Ms: served ? t.get.p99Ms : null,
    };
  }
  const savings: SeriesPoint['savings'] = {};
  for (const m of current.savings.models) {
    const last = previous?.savings.models.find((p) => p.model === m.model);
    const tokens = delta(
      m.inputTokens + m.outputTokens,
      last ? last.inputTokens + last.outputTokens : undefined,
    );
    const cost = delta(m.cost, last?.cost);
    if (tokens > 0 || cost > 0) savings[m.model] = { tokens, cost };
  }
  return {
    at,
    spanMs,
    lookups,
    hits,
    hitRate: lookups === 0 ? null : hits / lookups,
    tiers,
    savings,
    source: 'samples',
  };
}

export function panelsOf(
  insights: ReturnType<Insights['report']>,
  stats: StatsReport,
  hideNamespaces = false,
): Panels {
  const semantic = stats.tiers
    .filter(
      (t) =>
        tierTypesWith('similarity').includes(t.type) ||
        t.similarity !== undefined ||
        boundOf(t.store) !== undefined,
    )
    .map((t) => {
      const refusals: Record<string, number> = {};
      const guards = t.store?.guardRefusals;
      if (guards && typeof guards === 'object') Object.assign(refusals, guards);
      if (typeof t.store?.verifierRefusals === 'number' && t.store.verifierRefusals > 0)
        refusals.verifier = t.store.verifierRefusals;
      const histogram = insights.similarity.find((s) => s.tier === t.name);
      const bound = boundOf(t.store);
      return {
        tier: t.name,
        similarity: histogram && { from: histogram.from, bin: histogram.bin, counts: histogram.counts },
        refusals,
        ...(bound ? { bound: boundRows(bound, { hideNamespaces }) } : {}),
      };
    });
  return { namespaces: insights.namespaces, models: insights.models, semantic, health: insights.health };
}

/** POSTs one alert as JSON; retries with backoff; never throws (a failed delivery is logged). */
async function deliver(
  post: typeof fetch,
  hook: { url: string; timeoutMs: number; retries: number; headers: Record<string, string> },
  alert: Alert,
  logger: Logger,
  stopped: AbortSignal,
): Promise<void> {
  let lastError = '';
  for (let attempt = 0; attempt <= hook.retries; attempt++) {
    if (attempt > 0) await sleep(250 * 2 ** (attempt - 1), undefined, { signal: stopped }).catch(() => {});
    if (stopped.aborted) return;
    try {
      const res = await post(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...hook.headers },
        body: JSON.stringify(alert),
        signal: AbortSignal.any([AbortSignal.timeout(hook.timeoutMs), stopped]),
      });
      if (res.ok) return;
      lastError = `HTTP ${res.status}`;
    } catch (error) {
      lastError = errorOf(error).message;
    }
  }
  logger.warn(
    `[strata] alert webhook failed after ${hook.retries + 1} attempts (${lastError}): ${alert.id} ${alert.state}`,
  );
}
