/**
 * Strata's metrics through OpenTelemetry (`monitoring.metrics: "otel"`): the same names, labels
 * and values as /metrics, observed through the global MeterProvider of @opentelemetry/api (an
 * optional peer, loaded here and nowhere else) by whatever SDK the application registered.
 *
 * Like /metrics, nothing is recorded on the hit path: each instrument is asynchronous (an
 * observable counter or gauge), and one batch callback takes the samples of the very collection
 * /metrics would render (metric-families.ts) whenever the SDK collects.
 *
 * Histograms: the API has no asynchronous histogram, and the latencies were bucketed on the hit
 * path already (recording each again would count twice), so a histogram family is observed as
 * its three series, `<name>_bucket` (label `le`, cumulative), `<name>_sum` and `<name>_count`,
 * each an observable gauge: exporters append nothing to a gauge's name (a counter whose name
 * lacks `_total` gets one), so Prometheus stores the same series as from /metrics and
 * `histogram_quantile` over `rate(<name>_bucket[...])` works on them unchanged.
 *
 * Instruments carry no unit (an exporter would append it to the name: `_seconds`, ...), since
 * the names already say it.
 */
import { createRequire } from 'node:module';
import type { BatchObservableResult, Observable } from '@opentelemetry/api';
import type { Logger } from '../core/events.js';
import { StrataConfigError } from '../errors.js';
import { METRIC_FAMILIES, type MetricFamily, seriesNames } from './metric-families.js';

const PACKAGE = '@opentelemetry/api';
/** The meter's name: what an SDK's views and exporters see as the instrumentation scope. */
export const METER_NAME = 'strata-cache';

/** One value of one series, as /metrics writes it. */
export interface OtelSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface OtelMetricsSource {
  /** The samples of one collection: the monitor's, as /metrics renders them. */
  samples(): Promise<readonly OtelSample[]>;
  /**
   * More Prometheus text (the gateway's counters): its families become instruments when this
   * starts (from its `# TYPE` lines), and its samples are observed at each collection.
   */
  extra?: () => string;
}

type Api = typeof import('@opentelemetry/api');

/** @opentelemetry/api, or a config error naming the field that asked for it. */
function loadApi(): Api {
  try {
    return createRequire(import.meta.url)(PACKAGE) as Api;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && String(error).includes(`'${PACKAGE}'`))
      throw new StrataConfigError(
        [
          {
            path: 'monitoring.metrics',
            message: `"otel" needs the package ${PACKAGE}, which is not installed: npm install ${PACKAGE} (and an OpenTelemetry SDK that registers a MeterProvider)`,
          },
        ],
        { cause: error },
      );
    throw error;
  }
}

/**
 * Creates the instruments on a meter of the global MeterProvider and observes them at each
 * collection until `close()`. The API has no proxy for meters (as it has for tracers): the
 * provider must be registered before this runs, or nothing is exported, which is said once.
 */
export function startOtelMetrics(source: OtelMetricsSource, logger: Logger): { close(): void } {
  const api = loadApi();
  const provider = api.metrics.getMeterProvider();
  if (provider.constructor.name === 'NoopMeterProvider')
    logger.warn(
      '[strata] monitoring.metrics is "otel", but no OpenTelemetry MeterProvider is registered: register the SDK\'s (metrics.setGlobalMeterProvider) before creating the cache\'s monitor, or its metrics go nowhere',
    );
  const meter = provider.getMeter(METER_NAME);
  const instruments = new Map<string, Observable>();
  const add = (name: string, type: MetricFamily['type'], help: string) => {
    if (instruments.has(name)) return;
    instruments.set(
      name,
      type === 'counter'
        ? meter.createObservableCounter(name, { description: help })
        : meter.createObservableGauge(name, { description: help }),
    );
  };
  for (const [name, family] of Object.entries(METRIC_FAMILIES) as Array<[string, MetricFamily]>) {
    if (family.type !== 'histogram') add(name, family.type, family.help);
    else for (const series of seriesNames(name, family)) add(series, 'gauge', family.help);
  }
  if (source.extra) for (const f of textFamilies(source.extra())) add(f.name, f.type, f.help);

  const observe = async (result: BatchObservableResult) => {
    const samples = await source.samples();
    const extra = source.extra ? textSamples(source.extra()) : [];
    for (const s of [...samples, ...extra]) {
      const instrument = instruments.get(s.name);
      if (instrument) result.observe(instrument, s.value, s.labels);
    }
  };
  const observables = [...instruments.values()];
  meter.addBatchObservableCallback(observe, observables);
  return { close: () => meter.removeBatchObservableCallback(observe, observables) };
}

/** The families of Prometheus text, from its `# HELP` and `# TYPE` lines (counters and gauges). */
function textFamilies(text: string): Array<{ name: string; type: 'counter' | 'gauge'; help: string }> {
  const help = new Map<string, string>();
  const out: Array<{ name: string; type: 'counter' | 'gauge'; help: string }> = [];
  for (const line of text.split('\n')) {
    const h = /^# HELP (\S+) (.*)$/.exec(line);
    if (h) help.set(h[1]!, h[2]!);
    const t = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
    if (t) out.push({ name: t[1]!, type: t[2] as 'counter' | 'gauge', help: help.get(t[1]!) ?? '' });
  }
  return out;
}

/** The samples of Prometheus text: `name{label="value",...} number` lines, label values unescaped. */
export function textSamples(text: string): OtelSample[] {
  const out: OtelSample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
