/**
 * The fleet-counter scenario over a given tier stack: two app processes with known traffic and
 * a fleet monitor in this one; `strata serve` must show their sum, live and after they exit.
 */
import { expect } from 'vitest';
import type { StrataConfig } from '../../src/config/schema.js';
import type { StatsReport } from '../../src/core/reports.js';
import { createCache } from '../../src/langchain/create.js';
import { createMonitor, type Panels } from '../../src/monitor/index.js';
import { startServer } from '../../src/monitor/server.js';
import { startFleetApp } from './fleet-apps.js';

async function startApp(config: StrataConfig, prefix: string, hits: number, misses: number, similar: number) {
  const app = await startFleetApp(config, prefix, hits, misses, similar);
  return {
    async stop() {
      expect(await app.stop(), app.stderr).toBe(0);
    },
  };
}

interface Served {
  stats: StatsReport;
  savings: {
    models: Array<{ model: string; hits: number; inputTokens: number; outputTokens: number; cost: number }>;
  };
  fleet: boolean;
  processes?: Array<{ process: string; lookups: number; hits: number }>;
}

/**
 * `similar`: paraphrases each app looks up, which only the similarity tier named `semantic`
 * answers (the tiers must have one); the semantic panel must then show both apps' hits.
 */
export async function fleetCase(tiers: StrataConfig['tiers'], options: { similar?: number } = {}) {
  const n = options.similar ?? 0;
  // A short interval so the test sees reports arrive; monitor.reportSeconds is every process's.
  const config: StrataConfig = {
    tiers,
    monitoring: {
      reportSeconds: 1,
      sampleSeconds: 1,
      prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
    },
  };
  const a = await startApp(config, 'a', 30, 10, n);
  const b = await startApp(config, 'b', 12, 5, n);
  const lookups = 57 + 2 * n;
  const hits = 42 + 2 * n;
  const cache = await createCache(config, { logger: { warn: () => {} } });
  const monitor = createMonitor(
    cache,
    { prices: config.monitoring!.prices!, sampleSeconds: 1 },
    { fleet: true },
  );
  const server = await startServer(cache, monitor, { host: '127.0.0.1', port: 0 });
  const get = async (path: string) => (await fetch(`${server.url}${path}`)).text();
  const stats = async () => JSON.parse(await get('/api/stats?by=process')) as Served;
  try {
    // Both apps are still running: their numbers arrive within one reporting interval (1 s).
    await expect
      .poll(async () => (await stats()).stats.lookups, { timeout: 3_000, interval: 200 })
      .toBe(lookups);
    const live = await stats();
    expect(live.fleet).toBe(true);
    expect(live.stats).toMatchObject({ lookups, hits, misses: 15, updates: 42 });
    expect(live.stats.tiers[0]).toMatchObject({ name: 'memory', hits: 42 });
    expect(live.stats.lookup.count).toBe(lookups); // the merged latency histogram counts every lookup
    expect(live.savings.models).toEqual([
      {
        model: 'gpt-4o-mini',
        hits,
        inputTokens: 100 * hits,
        outputTokens: 50 * hits,
        cost: expect.closeTo((100 * hits * 0.15 + 50 * hits * 0.6) / 1e6, 12),
      },
    ]);
    const apps = live.processes!.filter((p) => p.lookups > 0).map((p) => [p.lookups, p.hits]);
    expect(apps.sort((x, y) => x[0]! - y[0]!)).toEqual([
      [17 + n, 12 + n],
      [40 + n, 30 + n],
    ]);
    // The namespace panel is the fleet's: each app's namespaces, summing to every lookup.
    const panels = JSON.parse(await get('/api/panels')) as Panels;
    expect(panels.namespaces.map((r) => [r.name, r.lookups, r.hits])).toEqual([
      ['ns-a', 30 + n, 30 + n],
      ['ns-b', 12 + n, 12 + n],
      ['ns-a-cold', 10, 0],
      ['ns-b-cold', 5, 0],
    ]);
    expect(panels.namespaces.reduce((sum, r) => sum + r.lookups, 0)).toBe(lookups);
    const saved = panels.namespaces.find((r) => r.name === 'ns-a')!;
    expect(saved.savedTokens).toBe(150 * (30 + n));
    expect(saved.savedCost).toBeCloseTo((100 * (30 + n) * 0.15 + 50 * (30 + n) * 0.6) / 1e6, 12);
    if (n > 0) {
      // The semantic panel too: both apps' similar hits in one histogram.
      const semantic = panels.semantic.find((s) => s.tier === 'semantic');
      expect(semantic?.similarity?.counts.reduce((sum, c) => sum + c, 0)).toBe(2 * n);
    }
    const metrics = await get('/metrics');
    expect(metrics).toMatch(new RegExp(`^strata_lookups_total ${lookups}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^strata_hits_total ${hits}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^strata_lookup_duration_seconds_count ${lookups}$`, 'm'));
    // After they exit, their last reports still count.
    await a.stop();
    await b.stop();
    expect((await stats()).stats.lookups).toBe(lookups);
    // This process's own lookups join the sum at its next report.
    await cache.lookup('served here', 'llm');
    await expect
      .poll(async () => (await stats()).stats.lookups, { timeout: 3_000, interval: 200 })
      .toBe(lookups + 1);
  } finally {
    await server.close();
    monitor.close();
    await cache.close();
  }
}
