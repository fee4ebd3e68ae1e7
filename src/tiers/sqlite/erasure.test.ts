/**
 * An erasure (clear, invalidateTag, delete) that the SQLite tier could not run, because another
 * connection holds the file's write lock, is not reported as done: the call rejects with an
 * IncompleteOperationError naming the tier and why, the erasure is retried in the background
 * until it has run, and meanwhile nothing it covers is served from or written to that tier.
 * close() drops it and says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { holdExclusiveLock } from '../../../test/support/cli.js';
import { type CacheKey, deriveKey } from '../../core/key.js';
import type { Strata } from '../../engine/strata.js';
import { IncompleteOperationError } from '../../errors.js';
import { createCache } from '../../langchain/create.js';

const LLM = 'model:"sim-1",temperature:0';
const dirs: string[] = [];
const releases: Array<() => void> = [];
afterEach(() => {
  for (const r of releases.splice(0)) r();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open(): Promise<{
  manager: Strata;
  path: string;
  warnings: string[];
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-erasure-'));
  dirs.push(dir);
  const path = join(dir, 'cache.db');
  const warnings: string[] = [];
  const cache = await createCache(
    {
      namespace: 'app',
      coalesceWaitMs: 0,
      tiers: [{ type: 'memory' }, { type: 'sqlite', path, busyTimeoutMs: 100, purgeIntervalSeconds: 0 }],
    },
    { logger: { warn: (m) => warnings.push(m) } },
  );
  return { manager: cache.strata, path, warnings, close: () => cache.close() };
}

function key(namespace: string, prompt: string): CacheKey {
  return deriveKey(namespace, LLM, prompt);
}

async function store(manager: Strata, k: CacheKey, tags: string[] = []): Promise<void> {
  await manager.update(k, [{ text: `answer to ${k.prompt}` }], { tags });
}

/** Which tier serves the key, once the memory tier in front has forgotten it (undefined: a miss). */
async function servedBy(manager: Strata, k: CacheKey): Promise<string | undefined> {
  await manager.tier('memory')!.clear();
  return (await manager.lookup(k, { claim: false }))?.tier;
}

function rows(path: string, namespace: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare('SELECT count(*) FROM cache_entries WHERE namespace = ?')
      .pluck()
      .get(namespace) as number;
  } finally {
    db.close();
  }
}

describe('an erasure the SQLite tier could not run', () => {
  it('clear rejects naming the tier and the lock; until its retry has run, SQLite serves nothing of that namespace; then the rows are gone', async () => {
    const { manager, path, close } = await open();
    const [q1, q2, other] = [key('app', 'q1'), key('app', 'q2'), key('other', 'q3')];
    for (const k of [q1, q2, other]) await store(manager, k);
    const release = holdExclusiveLock(path);
    releases.push(release);

    const error = await manager.clear('app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IncompleteOperationError);
    expect(error).toMatchObject({
      code: 'STRATA_INCOMPLETE_OPERATION',
      op: 'clear',
      removed: 2, // by the memory tier
      failures: [
        {
          tier: 'sqlite',
          reason: expect.stringMatching(/cache\.db: locked by another process for more than 100 ms/),
        },
      ],
      retrying: true,
    });
    expect((error as Error).message).toMatch(
      /retried in the background .* if the cache is closed first, it is not done/,
    );
    // Both rows are still in the file, yet neither is served; another namespace still is.
    expect(rows(path, 'app')).toBe(2);
    expect(await servedBy(manager, q1)).toBeUndefined();
    expect(await servedBy(manager, q2)).toBeUndefined();
    expect(await servedBy(manager, other)).toBe('sqlite');

    release();
    await expect.poll(() => rows(path, 'app'), { timeout: 15_000, interval: 50 }).toBe(0);
    expect(rows(path, 'other')).toBe(1);
    // The erasure has run: SQLite serves the namespace again.
    const q4 = key('app', 'q4');
    await store(manager, q4);
    expect(await servedBy(manager, q4)).toBe('sqlite');
    await close();
  });

  it('invalidateTag across namespaces that could not run: reads of every namespace skip SQLite until it has run', async () => {
    const { manager, path, close } = await open();
    const [tagged, untagged] = [key('app', 'tagged'), key('other', 'untagged')];
    await store(manager, tagged, ['pricing']);
    await store(manager, untagged);
    const release = holdExclusiveLock(path);
    releases.push(release);
    const error = await manager.invalidateTag('pricing').catch((e: unknown) => e);
    expect(error).toMatchObject({ op: 'invalidateTag', removed: 1, failures: [{ tier: 'sqlite' }] });
    expect(await servedBy(manager, tagged)).toBeUndefined();
    expect(await servedBy(manager, untagged)).toBeUndefined();
    release();
    await expect.poll(() => rows(path, 'app'), { timeout: 15_000, interval: 50 }).toBe(0);
    expect(await servedBy(manager, untagged)).toBe('sqlite');
    await close();
  });

  it('delete rejects the same way, and a later clear that runs covers it', async () => {
    const { manager, path, close } = await open();
    const q = key('app', 'q');
    await store(manager, q);
    const release = holdExclusiveLock(path);
    releases.push(release);
    await expect(manager.delete(q)).rejects.toMatchObject({
      op: 'delete',
      removed: 1,
      failures: [{ tier: 'sqlite' }],
    });
    expect(await servedBy(manager, q)).toBeUndefined();
    release();
    expect(await manager.clear('app')).toBe(1);
    // The pending delete is covered by the clear that ran: nothing of "app" is skipped any more.
    const again = key('app', 'again');
    await store(manager, again);
    expect(await servedBy(manager, again)).toBe('sqlite');
    await close();
  });

  it('while an erasure is pending, the tier takes no writes it covers: its retry never removes an answer the tier acknowledged', async () => {
    const { manager, path, close } = await open();
    await store(manager, key('app', 'old'));
    const acknowledged = new Map<string, string[]>();
    manager.events.on('set', ({ key, tiers }) => acknowledged.set(key.prompt, tiers));
    const release = holdExclusiveLock(path);
    releases.push(release);
    await expect(manager.clear('app')).rejects.toBeInstanceOf(IncompleteOperationError);
    // Two retries fail too (250 and 500 ms later): the next one comes a second after the second.
    const failures = async () => (await manager.stats({ store: false })).tiers[1]!.errors;
    await expect.poll(failures, { timeout: 15_000, interval: 20 }).toBeGreaterThanOrEqual(3);
    release();
    // Written after the clear was called, before its retry runs.
    const fresh = key('app', 'fresh');
    await store(manager, fresh);
    // Before: SQLite took it and the set event said so, then the retry removed it.
    expect(acknowledged.get(fresh.prompt)).toEqual(['memory']);
    await expect.poll(() => rows(path, 'app'), { timeout: 15_000, interval: 50 }).toBe(0);
    // The retry has run: SQLite takes writes of the namespace again, and keeps them.
    const later = key('app', 'later');
    await store(manager, later);
    expect(acknowledged.get(later.prompt)).toEqual(['memory', 'sqlite']);
    expect(await servedBy(manager, later)).toBe('sqlite');
    await close();
  });

  it('close() drops a pending erasure and says it was not done; the rows stay', async () => {
    const { manager, path, warnings, close } = await open();
    await store(manager, key('app', 'q'));
    const release = holdExclusiveLock(path);
    releases.push(release);
    await expect(manager.clear()).rejects.toBeInstanceOf(IncompleteOperationError);
    await close();
    release();
    expect(warnings).toContainEqual(
      '[strata] close(): 1 erasure(s) never ran on tier sqlite (clear in every namespace); dropped, not done',
    );
    expect(rows(path, 'app')).toBe(1);
    // After close nothing is attempted, and that is said too.
    await expect(manager.clear()).rejects.toMatchObject({
      failures: [
        { tier: 'memory', reason: 'the cache is closed' },
        { tier: 'sqlite', reason: 'the cache is closed' },
      ],
      retrying: false,
    });
  });

  it('purgeExpired gives per-tier counts and the tiers that could not', async () => {
    const { manager, path, close } = await open();
    const release = holdExclusiveLock(path);
    releases.push(release);
    const result = await manager.purgeExpired();
    expect(result.counts).toEqual({ memory: 0 });
    expect(result.failures).toEqual([
      { tier: 'sqlite', reason: expect.stringMatching(/locked by another process/) },
    ]);
    release();
    await close();
  });
});
