/**
 * `monitoring.metrics: "otel"`: the metrics observed through a real OpenTelemetry SDK
 * (@opentelemetry/sdk-metrics' MeterProvider, registered globally, and a MetricReader collected by
 * hand) carry the same names, labels and values as /metrics after the same traffic: a cache's
 * (memory + SQLite, savings priced) and a gateway's, with its own counters.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AIMessage } from '@langchain/core/messages';
import type { Generation } from '@langchain/core/outputs';
import { metrics } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startGateway } from '../../test/support/gateway.js';
import { runTs } from '../../test/support/run-ts.js';
import { monitoringSchema } from '../config/schema.js';
import { createCache } from '../langchain/create.js';
import { createMonitor, type Monitor } from './index.js';
import { METRIC_FAMILIES } from './metric-families.js';
import { METER_NAME, textSamples } from './otel-metrics.js';

class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const LLM = '_model:"base_chat_model",_type:"openai",baseURL:"https://api.openai.com/v1",model:"gpt-4o-mini"';
const PRICES = { 'gpt-4o-mini': { input: 0.15, output: 0.6 } };

const key = (name: string, labels: Readonly<Record<string, unknown>>) =>
  `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(String(labels[k]))}`)
    .join(',')}}`;

// A provider of its own for each test: the SDK keeps exporting a series it once saw (cumulative).
let reader: ManualReader;
let provider: MeterProvider;
const dirs: string[] = [];

beforeEach(() => {
  reader = new ManualReader();
  provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);
});

afterEach(async () => {
  // The unit project shares modules between files: leave no global provider behind.
  metrics.disable();
  await provider.shutdown();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** What the SDK collected from Strata's meter: series -> value, and each name's point type. */
async function collected(): Promise<{ values: Map<string, number>; kinds: Map<string, string> }> {
  const { resourceMetrics } = await reader.collect();
  const values = new Map<string, number>();
  const kinds = new Map<string, string>();
  for (const scope of resourceMetrics.scopeMetrics.filter((s) => s.scope.name === METER_NAME))
    for (const m of scope.metrics) {
      const monotonic = m.dataPointType === DataPointType.SUM && m.isMonotonic;
      kinds.set(m.descriptor.name, monotonic ? 'counter' : DataPointType[m.dataPointType]);
      for (const p of m.dataPoints) values.set(key(m.descriptor.name, p.attributes), p.value as number);
    }
  return { values, kinds };
}

function scraped(text: string): Map<string, number> {
  return new Map(textSamples(text).map((s) => [key(s.name, s.labels), s.value]));
}

/**
 * /metrics and an OpenTelemetry collection of the same moment: /metrics is read before and after
 * the collection, until both reads agree (a SQLite write landing between reads changes its bytes).
 */
async function sameMoment(monitor: Monitor) {
  for (let attempt = 0; ; attempt++) {
    const before = scraped(await monitor.metrics());
    const otel = await collected();
    const after = scraped(await monitor.metrics());
    if (JSON.stringify([...before]) === JSON.stringify([...after]) || attempt === 20)
      return { prometheus: after, otel };
    await new Promise((r) => setTimeout(r, 50));
  }
}

const answer = (text: string): Generation[] => [
  {
    text,
    message: new AIMessage({
      content: text,
      usage_metadata: { input_tokens: 100, output_tokens: 50, total_tokens: 150 },
    }),
  } as Generation,
];

describe('metrics through OpenTelemetry', () => {
  it('a cache: the same series, labels and values as /metrics, counters as monotonic sums', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-otel-'));
    dirs.push(dir);
    const cache = await createCache(
      {
        tiers: [
          { type: 'memory', maxEntries: 2 },
          { type: 'sqlite', path: join(dir, 'cache.db') },
        ],
      },
      { logger: { warn: () => {} } },
    );
    const monitor = createMonitor(cache, monitoringSchema.parse({ prices: PRICES, metrics: 'otel' }));
    try {
      for (let i = 0; i < 30; i++) {
        const prompt = `otel question ${i % 5}`;
        if (!(await cache.lookup(prompt, LLM))) await cache.update(prompt, LLM, answer(`answer ${i % 5}`));
      }
      const { prometheus, otel } = await sameMoment(monitor);
      expect(prometheus.get('strata_hits_total{}')).toBeGreaterThan(0);
      expect(prometheus.get('strata_saved_cost_usd_total{model="gpt-4o-mini"}')).toBeGreaterThan(0);
      expect(prometheus.get('strata_tier_backfills_total{tier="memory",type="memory"}')).toBeGreaterThan(0);
      expect(prometheus.get('strata_lookup_duration_seconds_count{}')).toBe(30);
      expect(otel.values).toEqual(prometheus);

      for (const [name, family] of Object.entries(METRIC_FAMILIES)) {
        const kind = otel.kinds.get(family.type === 'histogram' ? `${name}_bucket` : name);
        if (kind === undefined) continue; // a family this cache has no series of (semantic, similarity)
        expect(kind, name).toBe(family.type === 'counter' ? 'counter' : 'GAUGE');
      }
      expect([...otel.kinds.keys()]).toEqual(
        expect.arrayContaining([
          'strata_lookups_total',
          'strata_tier_breaker_state',
          'strata_saved_tokens_total',
          'strata_lookup_duration_seconds_bucket',
          'strata_tier_duration_seconds_sum',
        ]),
      );
      // Closed: nothing is observed any more (the SDK repeats the last values it saw).
      monitor.close();
      const last = (await collected()).values.get('strata_lookups_total{}');
      await cache.lookup('otel question 0', LLM);
      expect((await collected()).values.get('strata_lookups_total{}')).toBe(last);
    } finally {
      monitor.close();
      await cache.close();
    }
  });

  it('says once that nothing is exported when no MeterProvider is registered', async () => {
    metrics.disable();
    const warnings: string[] = [];
    const cache = await createCache({ tiers: [{ type: 'memory' }] }, { logger: { warn: () => {} } });
    const monitor = createMonitor(cache, monitoringSchema.parse({ metrics: 'otel' }), {
      logger: { warn: (m) => warnings.push(m) },
    });
    monitor.close();
    await cache.close();
    expect(warnings).toEqual([expect.stringMatching(/no OpenTelemetry MeterProvider is registered/)]);
  });

  it('a gateway: its own counters too, labelled by route, model and cache status', async () => {
    const gw = await startGateway({ config: { monitoring: { prices: PRICES, metrics: 'otel' } } });
    try {
      const request = {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'What does OpenTelemetry export?' }],
      };
      for (let i = 0; i < 3; i++)
        await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-otel-test' },
          body: JSON.stringify(request),
        }).then((r) => r.text());
      const { prometheus, otel } = await sameMoment(gw.proxy.monitor);
      expect(
        prometheus.get(
          'strata_proxy_requests_total{cache="hit",model="gpt-4o-mini",route="chat.completions"}',
        ),
      ).toBe(2);
      expect(otel.values).toEqual(prometheus);
      expect(otel.kinds.get('strata_proxy_requests_total')).toBe('counter');
    } finally {
      await gw.close();
    }
  });

  it('without @opentelemetry/api installed, a config error names monitoring.metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-otel-missing-'));
    dirs.push(dir);
    // The package made unresolvable for require, as when it is not installed.
    const hide = join(dir, 'hide.cjs');
    writeFileSync(
      hide,
      `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === '@opentelemetry/api') {
    const error = new Error("Cannot find module '@opentelemetry/api'");
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
`,
    );
    const script = join(dir, 'monitor.mts');
    writeFileSync(
      script,
      `import { createStrata } from ${JSON.stringify(join(import.meta.dirname, '..', 'engine', 'create.ts'))};
import { createMonitor } from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))};
const strata = await createStrata({ tiers: [{ type: 'memory' }] });
try {
  createMonitor(strata, { prices: {}, sampleSeconds: 5, metrics: 'otel' });
  console.log('no error');
} catch (error) {
  console.log(error.name, error.message);
} finally {
  await strata.close();
}
`,
    );
    const { stdout } = await runTs(script, [], {
      cwd: dir,
      env: { ...process.env, NODE_OPTIONS: `--require ${hide}` },
    });
    expect(stdout.trim()).toBe(
      'StrataConfigError invalid Strata config: monitoring.metrics: "otel" needs the package @opentelemetry/api, which is not installed: npm install @opentelemetry/api (and an OpenTelemetry SDK that registers a MeterProvider)',
    );
  });
});
