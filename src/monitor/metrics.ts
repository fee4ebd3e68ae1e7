/**
 * Prometheus metrics (prom-client) for /metrics: the samples of metric-families.ts, which the
 * monitor computes from the cache's own statistics at scrape time. prom-client is loaded at the
 * first scrape (the monitor imports this file then), not when the package is imported.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { HealthReport, LatencyHistograms, StatsReport } from '../core/reports.js';
import {
  METRIC_FAMILIES,
  type MetricFamily,
  type Sample,
  type SampleOptions,
  samplesOf,
} from './metric-families.js';
import type { ModelSavings } from './savings.js';

export {
  type FamilyName,
  LATENCY_BOUNDS_MS,
  METRIC_FAMILIES,
  type MetricFamily,
  type Sample,
  samplesOf,
  seriesNames,
} from './metric-families.js';

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/**
 * Histograms are written as text, because prom-client's Histogram only counts observations
 * itself, and these were counted on the hit path already.
 */
function histogramText(samples: readonly Sample[]): string {
  const lines: string[] = [];
  let family: string | undefined;
  for (const s of samples) {
    if (s.family !== family) {
      family = s.family;
      lines.push(`# HELP ${family} ${METRIC_FAMILIES[s.family].help}`);
      lines.push(`# TYPE ${family} histogram`);
    }
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    lines.push(`${s.name}${labels.length === 0 ? '' : `{${labels.join(',')}}`} ${s.value}`);
  }
  return `${lines.join('\n')}\n`;
}

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
    options: SampleOptions = {},
  ): Promise<string> {
    this.registry.resetMetrics();
    const histogramSeries: Sample[] = [];
    for (const s of samplesOf(stats, health, savings, histograms, options)) {
      const family: MetricFamily = METRIC_FAMILIES[s.family];
      if (family.type === 'histogram') histogramSeries.push(s);
      else if (family.type === 'counter') this.counter(s.family, family).inc(s.labels, s.value);
      else this.gauge(s.family, family).set(s.labels, s.value);
    }
    return (await this.registry.metrics()) + histogramText(histogramSeries);
  }

  private counter(name: string, family: MetricFamily): Counter {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter({
        name,
        help: family.help,
        labelNames: [...family.labels],
        registers: [this.registry],
      });
      this.counters.set(name, c);
    }
    return c;
  }

  private gauge(name: string, family: MetricFamily): Gauge {
    let g = this.gauges.get(name);
    if (!g) {
      g = new Gauge({ name, help: family.help, labelNames: [...family.labels], registers: [this.registry] });
      this.gauges.set(name, g);
    }
    return g;
  }
}
