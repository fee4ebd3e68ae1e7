import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCache } from '../create.js';
import { loadConfig, loadConfigWithSource } from './load.js';
import { parseConfig, StrataConfigError } from './schema.js';

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
    expect(problem({ tiers: [{ type: 'memory', maxEntires: 5 }] })).toMatch(/tiers\[0\].*maxEntires/);
    expect(problem({ tiers: [{ type: 'redsi' }] })).toMatch(/tiers\[0\].*unknown tier type "redsi"/);
    expect(problem({ tiers: [] })).toMatch(/tiers: needs at least one tier/);
    expect(problem({ namespace: '', tiers: [{ type: 'memory' }] })).toMatch(/namespace:/);
    expect(problem({ defaultTtlSeconds: 0, tiers: [{ type: 'memory' }] })).toMatch(/defaultTtlSeconds/);
    expect(problem({ tiers: [{ type: 'memory', breaker: { cooldownMs: 'soon' } }] })).toMatch(
      /tiers\[0\]\.breaker\.cooldownMs/,
    );
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

  it('names the tier whose backend cannot be opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-cfg-'));
    const notADir = join(dir, 'file');
    writeFileSync(notADir, 'x');
    await expect(
      createCache({ tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(notADir, 'c.db') }] }),
    ).rejects.toThrow(/tiers\[1\]: cannot open sqlite tier/);
    rmSync(dir, { recursive: true, force: true });
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
