import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StrataConfigError } from '../errors.js';
import { createCache } from '../langchain/create.js';
import { loadConfig, loadConfigWithSource } from './load.js';
import { parseConfig } from './schema.js';

function problem(input: unknown): string {
  try {
    parseConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(StrataConfigError);
    return (error as Error).message;
  }
  throw new Error('config was accepted');
}

describe('config validation', () => {
  it('names the field path of each problem', () => {
    expect(problem({ tiers: [{ type: 'memory' }, { type: 'sqlite' }] })).toMatch(/tiers\[1\]\.path/);
    expect(problem({ tiers: [{ type: 'memory', maxEntries: -1 }] })).toMatch(/tiers\[0\]\.maxEntries/);
    expect(problem({ tiers: [{ type: 'memory', maxEntires: 5 }] })).toMatch(
      /tiers\[0\]\.maxEntires: unknown field/,
    );
    expect(problem({ proxy: { prot: 1, hots: 'x' }, tiers: [{ type: 'memory' }] })).toMatch(
      /proxy\.prot: unknown field; proxy\.hots: unknown field/,
    );
    expect(problem({ tiers: [{ type: 'redsi' }] })).toMatch(/tiers\[0\].*unknown tier type "redsi"/);
    expect(problem({ tiers: [] })).toMatch(/tiers: needs at least one tier/);
    expect(problem({ namespace: '', tiers: [{ type: 'memory' }] })).toMatch(/namespace:/);
    expect(problem({ defaultTtlSeconds: 0, tiers: [{ type: 'memory' }] })).toMatch(/defaultTtlSeconds/);
    expect(problem({ tiers: [{ type: 'memory', breaker: { cooldownMs: 'soon' } }] })).toMatch(
      /tiers\[0\]\.breaker\.cooldownMs/,
    );
  });

  it("checks a Redis Cluster's nodeAddressMap: host:port to host:port, in cluster mode only", () => {
    const cluster = { type: 'redis', mode: 'cluster', nodes: ['10.0.0.1:7000'] };
    const map = { '10.0.0.1:7000': '127.0.0.1:17000' };
    expect(parseConfig({ tiers: [{ ...cluster, nodeAddressMap: map }] }).tiers[0]).toMatchObject({
      nodeAddressMap: map,
    });
    expect(problem({ tiers: [{ ...cluster, nodeAddressMap: { '10.0.0.1:7000': 'localhost' } }] })).toMatch(
      /tiers\[0\]\.nodeAddressMap\.10\.0\.0\.1:7000: must be host:port/,
    );
    expect(problem({ tiers: [{ type: 'redis', url: 'redis://h:1', nodeAddressMap: map }] })).toMatch(
      /tiers\[0\]\.nodeAddressMap: only used in cluster mode/,
    );
  });

  it('requires a threshold with custom embeddings, at its field path', () => {
    const embeddings = { embedQuery: async () => [1], embedDocuments: async () => [[1]] };
    expect(problem({ tiers: [{ type: 'semantic', embeddings }] })).toMatch(
      /tiers\[0\]\.threshold: required with custom embeddings/,
    );
    expect(() => parseConfig({ tiers: [{ type: 'semantic', embeddings, threshold: 0.9 }] })).not.toThrow();
    expect(() => parseConfig({ tiers: [{ type: 'semantic', embeddings: 'lexical' }] })).not.toThrow();
  });

  it('fills defaults', () => {
    const config = parseConfig({ tiers: [{ type: 'memory' }] });
    expect(config).toMatchObject({ namespace: 'default', defaultTtlSeconds: null, storePrompt: true });
    expect(config.tiers[0]).toMatchObject({ type: 'memory', maxEntries: 10_000, timeoutMs: 1_000 });
  });

  it('rejects two tiers with one name when the cache is created', async () => {
    await expect(createCache({ tiers: [{ type: 'memory' }, { type: 'memory' }] })).rejects.toThrow(
      /named "memory"/,
    );
  });

  it('rejects duplicate tier names as a config error naming the later tier', async () => {
    // Two tiers of one type without `name` collide on the default name (the type).
    const unnamed = problem({
      tiers: [{ type: 'memory' }, { type: 'sqlite', path: 'c.db' }, { type: 'memory' }],
    });
    expect(unnamed).toMatch(/tiers\[2\]\.name: two tiers are named "memory" \(tiers\[0\] and tiers\[2\]\)/);
    expect(unnamed).toMatch(/named after its type/);
    expect(unnamed).toMatch(/give one a distinct `name`/);
    // An explicit name that equals another tier's default name collides too.
    expect(
      problem({ tiers: [{ type: 'memory' }, { type: 'sqlite', path: 'c.db', name: 'memory' }] }),
    ).toMatch(/tiers\[1\]\.name: two tiers are named "memory"/);
    expect(
      problem({
        tiers: [
          { type: 'memory', name: 'hot' },
          { type: 'sqlite', path: 'c.db', name: 'hot' },
        ],
      }),
    ).toMatch(/tiers\[1\]\.name: two tiers are named "hot"/);
    // createCache reports it before opening any backend, as a StrataConfigError.
    await expect(createCache({ tiers: [{ type: 'memory' }, { type: 'memory' }] })).rejects.toBeInstanceOf(
      StrataConfigError,
    );
    // Distinct names make the same types fine.
    const ok = parseConfig({ tiers: [{ type: 'memory' }, { type: 'memory', name: 'memory-2' }] });
    expect(ok.tiers.map((t) => t.name ?? t.type)).toEqual(['memory', 'memory-2']);
  });

  it('rejects an alert rule naming a tier the config does not have', () => {
    const tiers = [{ type: 'memory' }, { type: 'sqlite', path: 'c.db', name: 'disk' }];
    const message = problem({
      tiers,
      monitoring: {
        alerts: {
          rules: [
            { type: 'tier_down', tier: 'disk' },
            { type: 'memory_full', tier: 'memroy' },
            { type: 'hit_rate_below', threshold: 0.2, tier: 'sqlite' },
          ],
        },
      },
    });
    expect(message).toMatch(
      /monitoring\.alerts\.rules\[1\]\.tier: no tier is named "memroy" \(tiers: memory, disk\)/,
    );
    // The sqlite tier is called `disk`, so its type is not a name.
    expect(message).toMatch(/monitoring\.alerts\.rules\[2\]\.tier: no tier is named "sqlite"/);
    expect(message).not.toMatch(/rules\[0\]/);
    const ok = parseConfig({
      tiers,
      monitoring: { alerts: { rules: [{ type: 'tier_down', tier: 'memory' }, { type: 'tier_down' }] } },
    });
    expect(ok.monitoring?.alerts?.rules).toHaveLength(2);
  });

  it('takes purgeIntervalSeconds 0 (off) or at least 1, nothing between or below', () => {
    for (const type of ['sqlite', 'mysql', 'mongodb'] as const) {
      const tier = (purgeIntervalSeconds: number) => ({
        type,
        ...(type === 'sqlite'
          ? { path: 'c.db' }
          : type === 'mysql'
            ? { url: 'mysql://h/db' }
            : { url: 'mongodb://h' }),
        purgeIntervalSeconds,
      });
      for (const bad of [0.5, 0.001, -1, -60, 3e6]) {
        expect(problem({ tiers: [{ type: 'memory' }, tier(bad)] })).toMatch(
          /tiers\[1\]\.purgeIntervalSeconds: must be/,
        );
      }
      for (const good of [0, 1, 1.5, 60, 86_400]) {
        expect(parseConfig({ tiers: [tier(good)] }).tiers[0]).toMatchObject({ purgeIntervalSeconds: good });
      }
    }
    expect(problem({ tiers: [{ type: 'sqlite', path: 'c.db', purgeIntervalSeconds: 0.5 }] })).toMatch(
      /0 \(off\) or at least 1 second/,
    );
  });

  it('semantic maxErrorRate: above 0 and at most 0.5, per namespace too; its options need it', () => {
    const semantic = (fields: Record<string, unknown>) => ({ tiers: [{ type: 'semantic', ...fields }] });
    for (const bad of [0, -0.1, 0.6, 1, Number.NaN, Number.POSITIVE_INFINITY, '0.01', null])
      expect(problem(semantic({ maxErrorRate: bad }))).toMatch(/tiers\[0\]\.maxErrorRate: /);
    expect(problem(semantic({ maxErrorRates: { legal: 0 } }))).toMatch(
      /tiers\[0\]\.maxErrorRates\.legal: must be above 0/,
    );
    expect(parseConfig(semantic({ maxErrorRate: 0.5 })).tiers[0]).toMatchObject({ maxErrorRate: 0.5 });
    for (const [field, value] of [
      ['explorationBudget', 0.1],
      ['judge', () => true],
      ['backgroundJudge', () => true],
    ] as const)
      expect(problem(semantic({ [field]: value }))).toMatch(
        new RegExp(`tiers\\[0\\]\\.${field}: needs maxErrorRate or maxErrorRates`),
      );
    expect(problem(semantic({ maxErrorRates: { a: 0.01 }, explorationBudget: 2 }))).toMatch(
      /tiers\[0\]\.explorationBudget: /,
    );
  });

  it('rejects TTLs that are not finite or longer than ten years', () => {
    const tenYears = 10 * 365 * 86_400;
    for (const bad of [tenYears + 1, 1e12, 1e308, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(problem({ defaultTtlSeconds: bad, tiers: [{ type: 'memory' }] })).toMatch(
        /^[^;]*defaultTtlSeconds: /,
      );
      expect(
        problem({ tiers: [{ type: 'memory' }, { type: 'memory', name: 'm2', ttlSeconds: bad }] }),
      ).toMatch(/tiers\[1\]\.ttlSeconds: /);
    }
    expect(problem({ defaultTtlSeconds: 1e12, tiers: [{ type: 'memory' }] })).toMatch(
      /at most 315360000 seconds \(10 years\)/,
    );
    const ok = parseConfig({
      defaultTtlSeconds: tenYears,
      tiers: [{ type: 'memory', ttlSeconds: tenYears }],
    });
    expect(ok.defaultTtlSeconds).toBe(tenYears);
    // The longest TTL still gives a valid expiry date.
    expect(Number.isNaN(new Date(Date.now() + tenYears * 1000).getTime())).toBe(false);
  });

  it('rejects timers longer than Node can hold (they would fire at once)', () => {
    const tooLong = 2 ** 31;
    expect(problem({ tiers: [{ type: 'memory', timeoutMs: tooLong }] })).toMatch(
      /tiers\[0\]\.timeoutMs: must be at most/,
    );
    expect(problem({ coalesceWaitMs: tooLong, tiers: [{ type: 'memory' }] })).toMatch(
      /coalesceWaitMs: must be at most/,
    );
    expect(problem({ tiers: [{ type: 'memory' }], monitoring: { sampleSeconds: 1e7 } })).toMatch(
      /monitoring\.sampleSeconds: must be at most/,
    );
    expect(
      problem({ tiers: [{ type: 'memory' }], monitoring: { alerts: { intervalSeconds: 1e7 } } }),
    ).toMatch(/monitoring\.alerts\.intervalSeconds: must be at most/);
    expect(
      parseConfig({ coalesceWaitMs: 2 ** 31 - 1, tiers: [{ type: 'memory', timeoutMs: 2 ** 31 - 1 }] }),
    ).toBeTruthy();
  });

  it('a backend that cannot be opened is not a config error: its tier is down with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-cfg-'));
    const notADir = join(dir, 'file');
    writeFileSync(notADir, 'x');
    const cache = await createCache(
      { tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(notADir, 'c.db') }] },
      { logger: { warn: () => {} } },
    );
    try {
      const health = await cache.health();
      expect(health.status).toBe('degraded');
      expect(health.tiers[1]).toMatchObject({ name: 'sqlite', status: 'down', reason: expect.any(String) });
    } finally {
      await cache.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('loadConfig', () => {
  const dirs: string[] = [];
  const savedEnv = process.env.STRATA_CONFIG;
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    if (savedEnv === undefined) delete process.env.STRATA_CONFIG;
    else process.env.STRATA_CONFIG = savedEnv;
  });

  function write(config: unknown): string {
    const dir = mkdtempSync(join(tmpdir(), 'strata-cfg-'));
    dirs.push(dir);
    const file = join(dir, 'strata.config.json');
    writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config));
    return file;
  }

  it('reads an explicit path and resolves relative paths against its folder', () => {
    const file = write({ namespace: 'app', tiers: [{ type: 'sqlite', path: 'data/c.db' }] });
    const { config, source } = loadConfigWithSource(file);
    expect(source).toBe(file);
    expect(config.namespace).toBe('app');
    expect(config.tiers[0]).toMatchObject({ path: join(file, '..', 'data', 'c.db') });
  });

  it('falls back to STRATA_CONFIG, then to the embedded default', () => {
    const file = write({ tiers: [{ type: 'memory', maxEntries: 7 }] });
    process.env.STRATA_CONFIG = file;
    expect(loadConfig().tiers[0]).toMatchObject({ maxEntries: 7 });
    delete process.env.STRATA_CONFIG;
    const fallback = loadConfigWithSource();
    expect(fallback.source).toBe('default');
    expect(fallback.config.tiers.map((t) => t.type)).toEqual(['memory', 'sqlite']);
  });

  it('reports unreadable JSON as a config error', () => {
    expect(() => loadConfig(write('{ not json'))).toThrow(StrataConfigError);
  });
});
