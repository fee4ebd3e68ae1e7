/**
 * Monitoring for one cache: Prometheus metrics, savings, a time series for the dashboard, and
 * alerts with their sinks (log, webhook, events). `strata serve` puts it behind HTTP;
 * applications can use it directly:
 *
 *   const monitor = createMonitor(cache, config.monitoring);
 *   monitor.alerts.on('alert', (a) => ...);
 *   res.end(await monitor.metrics());
 */

import type { MonitoringConfig } from '../config/schema.js';
import type { Logger } from '../core/manager.js';
import { errorOf } from '../core/manager.js';
import type { StrataCache } from '../langchain/cache.js';
import { type Alert, Alerter } from './alerts.js';
import { LATENCY_BOUNDS_MS, Metrics } from './metrics.js';
import { Savings } from './savings.js';

/** One point of the dashboard's history. */
export interface SeriesPoint {
  at: number;
  lookups: number;
  /** Hit rate since the previous point (null with no lookups). */
  hitRate: number | null;
  tiers: Record<string, { hits: number; misses: number; p50Ms: number; p99Ms: number }>;
}

const SERIES_LIMIT = 720;

export interface Monitor {
  readonly alerts: Alerter;
  readonly savings: Savings;
  readonly contentType: string;
  metrics(): Promise<string>;
  series(): SeriesPoint[];
  close(): void;
}

export function createMonitor(
  cache: StrataCache,
  config: MonitoringConfig = { prices: {}, sampleSeconds: 5 },
  options: { logger?: Logger; fetch?: typeof fetch } = {},
): Monitor {
  const manager = cache.tiers;
  const logger = options.logger ?? { warn: (m: string) => console.warn(m) };
  const savings = new Savings(config.prices);
  const metrics = new Metrics();
  const a = config.alerts;
  const alerter = new Alerter(manager, a?.rules ?? [], {
    forChecks: a?.forChecks ?? 1,
    clearChecks: a?.clearChecks ?? 2,
    cooldownSeconds: a?.cooldownSeconds ?? 300,
  });

  const onHit = (e: {
    key: { llmString: string };
    latencyMs: number;
    usage?: Parameters<Savings['record']>[1];
  }) => {
    savings.record(e.key.llmString, e.usage);
    alerter.observeLookup(e.latencyMs);
  };
  const onMiss = (e: { latencyMs: number }) => alerter.observeLookup(e.latencyMs);
  cache.on('hit', onHit);
  cache.on('miss', onMiss);

  if (a?.log !== false) {
    alerter.on('alert', (alert) => logger.warn(`[strata] alert ${alert.state}: ${alert.message}`));
  }
  if (a?.webhook) {
    const hook = a.webhook;
    const post = options.fetch ?? fetch;
    alerter.on('alert', (alert) => void deliver(post, hook, alert, logger));
  }
  if (a && a.rules.length > 0) alerter.start(a.intervalSeconds * 1000);

  const points: SeriesPoint[] = [];
  let previous: Awaited<ReturnType<typeof manager.stats>> | undefined;
  const sample = async () => {
    const stats = await manager.stats({ store: false });
    const lookups = previous ? stats.lookups - previous.lookups : 0;
    const hits = previous ? stats.hits - previous.hits : 0;
    const tiers: SeriesPoint['tiers'] = {};
    for (const t of stats.tiers) {
      const before = previous?.tiers.find((p) => p.name === t.name);
      tiers[t.name] = {
        hits: t.hits - (before?.hits ?? t.hits),
        misses: t.misses - (before?.misses ?? t.misses),
        p50Ms: t.get.p50Ms,
        p99Ms: t.get.p99Ms,
      };
    }
    previous = stats;
    points.push({ at: manager.now(), lookups, hitRate: lookups === 0 ? null : hits / lookups, tiers });
    if (points.length > SERIES_LIMIT) points.shift();
  };
  void sample().catch(() => {});
  const sampler = setInterval(() => void sample().catch(() => {}), config.sampleSeconds * 1000);
  sampler.unref();

  return {
    alerts: alerter,
    savings,
    contentType: metrics.contentType,
    async metrics() {
      const [stats, health] = await Promise.all([manager.stats(), manager.health()]);
      return metrics.render(
        stats,
        health,
        savings.report().models,
        manager.latencyHistograms(LATENCY_BOUNDS_MS),
      );
    },
    series: () => points.map((p) => ({ ...p })),
    close() {
      clearInterval(sampler);
      alerter.stop();
      cache.off('hit', onHit);
      cache.off('miss', onMiss);
    },
  };
}

/** POSTs one alert as JSON; retries with backoff; never throws (a failed delivery is logged). */
async function deliver(
  post: typeof fetch,
  hook: { url: string; timeoutMs: number; retries: number; headers: Record<string, string> },
  alert: Alert,
  logger: Logger,
): Promise<void> {
  let lastError = '';
  for (let attempt = 0; attempt <= hook.retries; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
    try {
      const res = await post(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...hook.headers },
        body: JSON.stringify(alert),
        signal: AbortSignal.timeout(hook.timeoutMs),
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
