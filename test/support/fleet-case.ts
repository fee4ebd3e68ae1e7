/**
 * The fleet-counter scenario over a given tier stack: two app processes with known traffic and
 * a fleet monitor in this one; `strata serve` must show their sum, live and after they exit.
 */
import { expect } from 'vitest';
import type { StrataConfig } from '../../src/config/schema.js';
import type { StatsReport } from '../../src/core/reports.js';
import { createCache } from '../../src/langchain/create.js';
import { createMonitor } from '../../src/monitor/index.js';
import { startServer } from '../../src/monitor/server.js';
import { startFleetApp } from './fleet-apps.js';

async function startApp(config: StrataConfig, prefix: string, hits: number, misses: number) {
  const app = await startFleetApp(config, prefix, hits, misses);
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

export async function fleetCase(tiers: StrataConfig['tiers']) {
  // A short interval so the test sees reports arrive; monitor.reportSeconds is every process's.
  const config: StrataConfig = {
    tiers,
    monitoring: {
      reportSeconds: 1,
      sampleSeconds: 1,
      prices: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
    },
  };
  const a = await startApp(config, 'a', 30, 10);
  const b = await startApp(config, 'b', 12, 5);
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
    await expect.poll(async () => (await stats()).stats.lookups, { timeout: 3_000, interval: 200 }).toBe(57);
    const live = await stats();
    expect(live.fleet).toBe(true);
    expect(live.stats).toMatchObject({ lookups: 57, hits: 42, misses: 15, updates: 42 });
    expect(live.stats.tiers[0]).toMatchObject({ name: 'memory', hits: 42 });
    expect(live.stats.lookup.count).toBe(57); // the merged latency histogram counts every lookup
    expect(live.savings.models).toEqual([
      {
        model: 'gpt-4o-mini',
        hits: 42,
        inputTokens: 4_200,
        outputTokens: 2_100,
        cost: expect.closeTo((4_200 * 0.15 + 2_100 * 0.6) / 1e6, 12),
      },
    ]);
    const apps = live.processes!.filter((p) => p.lookups > 0).map((p) => [p.lookups, p.hits]);
    expect(apps.sort((x, y) => x[0]! - y[0]!)).toEqual([
      [17, 12],
      [40, 30],
    ]);
    const metrics = await get('/metrics');
    expect(metrics).toMatch(/^strata_lookups_total 57$/m);
    expect(metrics).toMatch(/^strata_hits_total 42$/m);
    expect(metrics).toMatch(/^strata_lookup_duration_seconds_count 57$/m);
    // After they exit, their last reports still count.
    await a.stop();
    await b.stop();
    expect((await stats()).stats.lookups).toBe(57);
    // This process's own lookups join the sum at its next report.
    await cache.lookup('served here', 'llm');
    await expect.poll(async () => (await stats()).stats.lookups, { timeout: 3_000, interval: 200 }).toBe(58);
  } finally {
    await server.close();
    monitor.close();
    await cache.close();
  }
}
