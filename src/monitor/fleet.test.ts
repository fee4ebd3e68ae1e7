import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { startFleetApp } from '../../test/support/fleet-apps.js';
import { service } from '../../test/support/services.js';
import type { StrataConfig } from '../config/schema.js';
import type { StatsReport } from '../core/reports.js';
import { createCache } from '../langchain/create.js';
import { createMonitor } from './index.js';
import { startServer } from './server.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-fleet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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

async function fleetCase(tiers: StrataConfig['tiers']) {
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

describe('fleet counters: strata serve shows the sum over every process', () => {
  it('memory + SQLite: processes on one machine sharing the SQLite file', async () => {
    await fleetCase([{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'fleet.db') }]);
  });

  it('memory + Redis: processes sharing a Redis', async () => {
    const env = service('redis');
    await fleetCase([
      { type: 'memory' },
      { type: 'redis', url: env.STRATA_TEST_REDIS_URL!, keyPrefix: `fleet${Date.now()}` },
    ]);
  });

  it('without fleet mode, a monitor shows its own process only', async () => {
    const path = join(dir, 'own.db');
    const config: StrataConfig = { tiers: [{ type: 'sqlite', path }], monitoring: { reportSeconds: 1 } };
    const other = await createCache(config);
    await other.lookup('elsewhere', 'llm');
    await other.close(); // reports on close
    const cache = await createCache(config);
    const own = createMonitor(cache);
    const fleet = createMonitor(cache, undefined, { fleet: true });
    try {
      expect((await own.stats()).lookups).toBe(0);
      expect((await fleet.stats()).lookups).toBe(1);
    } finally {
      own.close();
      fleet.close();
      await cache.close();
    }
  });
});

describe('fleet counters, when the shared tier is down at start-up', () => {
  it('are reported once the tier opens', async () => {
    // The SQLite file's directory is a file at first: the tier cannot be opened and is down.
    const parent = join(dir, 'not-yet-a-directory');
    writeFileSync(parent, 'a file where the directory should be');
    const cache = await createCache(
      {
        tiers: [
          { type: 'memory' },
          { type: 'sqlite', path: join(parent, 'cache.db'), breaker: { cooldownMs: 100 } },
        ],
        monitoring: { reportSeconds: 1 },
      },
      { logger: { warn: () => {} } },
    );
    try {
      expect((await cache.health()).tiers[1]).toMatchObject({ status: 'down' });
      await cache.update('q', 'model:"m"', [{ text: 'a' }]);
      await cache.lookup('q', 'model:"m"');
      rmSync(parent);
      mkdirSync(parent);
      const rows = () => {
        try {
          const db = new Database(join(parent, 'cache.db'), { readonly: true, fileMustExist: true });
          try {
            return (db.prepare('SELECT count(*) AS n FROM fleet_counters').get() as { n: number }).n;
          } finally {
            db.close();
          }
        } catch {
          return 0;
        }
      };
      // The tier re-opens on its backoff (a lookup finds it due); the next report reaches it.
      await expect
        .poll(
          async () => {
            await cache.lookup('q', 'model:"m"');
            return rows();
          },
          { timeout: 15_000, interval: 250 },
        )
        .toBe(1);
    } finally {
      await cache.close();
    }
  });
});
