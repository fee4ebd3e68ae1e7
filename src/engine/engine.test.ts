/** The engine on its own: createStrata and the Strata API over memory and SQLite, no LangChain. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { deriveKey } from '../core/key.js';
import { IncompleteOperationError, StrataConfigError } from '../errors.js';
import { createStrata } from './create.js';
import type { Strata } from './strata.js';

const LLM = 'model=test-model,endpoint=https://llm.example';
const answer = (text: string) => [{ text }];

const dirs: string[] = [];
const open: Strata[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function engine(clock = new ManualClock(Date.now())): Promise<{ strata: Strata; path: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-engine-'));
  dirs.push(dir);
  const path = join(dir, 'cache.db');
  const strata = await createStrata(
    {
      namespace: 'app',
      defaultTtlSeconds: 60,
      coalesceWaitMs: 0,
      tiers: [{ type: 'memory' }, { type: 'sqlite', path, purgeIntervalSeconds: 0 }],
    },
    { clock, logger: { warn: () => {} } },
  );
  open.push(strata);
  return { strata, path };
}

describe('createStrata', () => {
  it('stores through every tier and answers from the first, with the config as the engine knows it', async () => {
    const { strata } = await engine();
    expect(strata.tierNames).toEqual(['memory', 'sqlite']);
    expect(strata.namespace).toBe('app');
    expect(strata.defaultTtlSeconds).toBe(60);
    const key = deriveKey(strata.namespace, LLM, 'What is the capital of France?');
    expect(await strata.lookup(key)).toBeUndefined();
    const sets: string[][] = [];
    strata.events.on('set', (e) => sets.push(e.tiers));
    await strata.update(key, answer('Paris'), { ttlMs: 60_000, tags: ['geo'] });
    expect(sets).toEqual([['memory', 'sqlite']]);
    const hit = await strata.lookup(key);
    expect(hit?.tier).toBe('memory');
    expect(hit?.entry.gens[0]?.text).toBe('Paris');
    const stats = await strata.stats();
    expect(stats.lookups).toBe(2);
    expect(stats.hits).toBe(1);
    expect(stats.misses).toBe(1);
  });

  it('answers from SQLite once memory lost the entry, and copies it back into memory', async () => {
    const { strata } = await engine();
    const key = deriveKey('app', LLM, 'q');
    await strata.update(key, answer('a'));
    await strata.tier('memory')!.clear();
    const backfills: string[] = [];
    strata.events.on('backfill', (e) => backfills.push(`${e.from}->${e.to}`));
    expect((await strata.lookup(key))?.tier).toBe('sqlite');
    await new Promise((r) => setTimeout(r, 20));
    expect(backfills).toEqual(['sqlite->memory']);
    expect((await strata.lookup(key))?.tier).toBe('memory');
  });

  it('expires entries by the engine clock, and purges them', async () => {
    const clock = new ManualClock(Date.now());
    const { strata } = await engine(clock);
    const key = deriveKey('app', LLM, 'short-lived');
    await strata.update(key, answer('soon gone'), { ttlMs: 1_000 });
    clock.advance(2_000);
    expect(await strata.lookup(key)).toBeUndefined();
    const { failures } = await strata.purgeExpired();
    expect(failures).toEqual([]);
  });

  it('invalidates by tag and clears one namespace, leaving the others', async () => {
    const { strata } = await engine();
    const tagged = deriveKey('app', LLM, 'tagged');
    const other = deriveKey('other', LLM, 'kept');
    await strata.update(tagged, answer('x'), { tags: ['t1'] });
    await strata.update(other, answer('y'));
    expect(await strata.invalidateTag('t1', 'app')).toBeGreaterThan(0);
    expect(await strata.lookup(tagged)).toBeUndefined();
    expect(await strata.clear('app')).toBe(0);
    expect((await strata.lookup(other))?.entry.gens[0]?.text).toBe('y');
    expect(await strata.clear()).toBeGreaterThan(0);
    expect(await strata.lookup(other)).toBeUndefined();
    // A tag no entry can carry would remove nothing and report it as done.
    for (const bad of ['', 42]) {
      await expect(strata.invalidateTag(bad as string)).rejects.toThrow(
        /invalidateTag\.tag: must be a non-empty string/,
      );
    }
  });

  it('refuses to store an answer no edge could hand back (the stored-generation format, judged in core)', async () => {
    const { strata } = await engine();
    const key = deriveKey('app', LLM, 'p');
    // A message of a type the stored-generation format does not have.
    await strata.update(key, [{ text: 'hi', message: { type: 'bogus', data: { content: 'hi' } } }]);
    expect((await strata.stats()).unstorable).toBe(1);
    expect(await strata.lookup(key)).toBeUndefined();
  });

  it('reports health per tier, and an erasure after close names every tier', async () => {
    const { strata } = await engine();
    const health = await strata.health();
    expect(health.tiers.map((t) => [t.name, t.status])).toEqual([
      ['memory', 'up'],
      ['sqlite', 'up'],
    ]);
    await strata.close();
    await expect(strata.clear()).rejects.toBeInstanceOf(IncompleteOperationError);
    expect(await strata.lookup(deriveKey('app', LLM, 'after close'))).toBeUndefined();
  });

  it('a tier that cannot be opened for a bad config is a StrataConfigError with its cause', async () => {
    const error = await createStrata({ tiers: [{ type: 'memory' }, { type: 'memory' }] }).catch((e) => e);
    expect(error).toBeInstanceOf(StrataConfigError);
    expect((error as StrataConfigError).issues[0]?.message).toMatch(/two tiers are named "memory"/);
  });
});
