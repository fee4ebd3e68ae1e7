/**
 * The engine's half of stale-if-error (stale.ts): what an entry written with a grace carries, what
 * tiers are told to keep, that a lookup past the TTL still misses and leaves the entry, and what
 * lookupStale finds, over memory and SQLite with a clock the test moves.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStrata } from '../engine/create.js';
import type { Strata } from '../engine/strata.js';
import { ManualClock } from './clock.js';
import { Keyring } from './encryption/keyring.js';
import { decodeEntry, encodeEntry, newEntry } from './entry.js';
import { validateEntryLine } from './entry-schema.js';
import { deriveKey } from './key.js';

const LLM = 'model=test-model,endpoint=https://llm.example';
const START = Date.UTC(2026, 11, 5);
const dirs: string[] = [];
const open: Strata[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function engine(staleIfErrorSeconds: number) {
  const clock = new ManualClock(START);
  const dir = mkdtempSync(join(tmpdir(), 'strata-stale-'));
  dirs.push(dir);
  const strata = await createStrata(
    {
      defaultTtlSeconds: 60,
      staleIfErrorSeconds,
      coalesceWaitMs: 0,
      tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'cache.db'), purgeIntervalSeconds: 0 }],
    },
    { clock, logger: { warn: () => {} } },
  );
  open.push(strata);
  return { strata, clock };
}

describe('stale-if-error in the engine', () => {
  it('an entry with a grace carries staleUntil; tiers are handed it as the expiry', () => {
    const key = deriveKey('default', LLM, 'q');
    const entry = newEntry(key, [{ text: 'a' }], {
      now: START,
      storePrompt: true,
      ttlMs: 60_000,
      staleMs: 600_000,
    });
    expect(entry).toMatchObject({ expiresAt: START + 60_000, staleUntil: START + 660_000 });
    const stored = encodeEntry(entry);
    expect(stored.expiresAt).toBe(START + 660_000);
    expect(decodeEntry(stored.payload)).toMatchObject({
      expiresAt: START + 60_000,
      staleUntil: START + 660_000,
    });
    // No TTL, or no grace: nothing to keep past.
    expect(
      newEntry(key, [], { now: START, storePrompt: true, ttlMs: null, staleMs: 600_000 }).staleUntil,
    ).toBe(undefined);
    expect(newEntry(key, [], { now: START, storePrompt: true, ttlMs: 1000, staleMs: 0 }).staleUntil).toBe(
      undefined,
    );
    // Export lines carry it; one that ends before its expiry is refused, by name.
    expect(validateEntryLine(decodeEntry(stored.payload)).ok).toBe(true);
    const bad = validateEntryLine({ ...decodeEntry(stored.payload), staleUntil: START });
    expect(bad).toMatchObject({ ok: false, reason: expect.stringMatching(/^staleUntil: /) });
  });

  it('past the TTL a lookup misses and the entry stays; lookupStale finds it until the grace ends', async () => {
    const { strata, clock } = await engine(600);
    const key = deriveKey(strata.namespace, LLM, 'What is the capital of France?');
    await strata.update(key, [{ text: 'Paris' }], { ttlMs: 60_000 });
    clock.advance(61_000);
    expect(await strata.lookup(key)).toBeUndefined();
    // Both tiers still hold it (the lookup did not delete it as an expired entry).
    for (const name of ['memory', 'sqlite']) expect(await strata.tier(name)!.get(key)).toBeTypeOf('string');
    // `strata inspect` says why an expired entry is still there.
    const inspected = await strata.queries.inspect(key);
    expect(inspected.map((i) => i.state)).toEqual([
      'expired, kept for stale-if-error until 2026-12-05T00:11:00.000Z',
      'expired, kept for stale-if-error until 2026-12-05T00:11:00.000Z',
    ]);
    const stale = await strata.lookupStale(key);
    expect(stale).toMatchObject({ tier: 'memory', stale: true, entry: { gens: [{ text: 'Paris' }] } });
    expect(await strata.lookupStale(key, { maxStaleSeconds: 0 })).toBeUndefined();
    expect(await strata.lookupStale(key, { maxStaleSeconds: 1 })).toBeUndefined();
    expect(await strata.lookupStale(key, { maxStaleSeconds: 2 })).toMatchObject({ stale: true });
    clock.advance(598_000); // 659 s after the write: within the grace
    expect(await strata.lookupStale(key)).toMatchObject({ stale: true });
    clock.advance(1_000); // 660 s: the grace is over
    expect(await strata.lookupStale(key)).toBeUndefined();
    expect(await strata.tier('sqlite')!.get(key)).toBeFalsy();
    const stats = await strata.stats({ store: false });
    expect(stats).toMatchObject({ stale: 3, hits: 0, misses: 1, updates: 1 });
  });

  it('a live entry is a hit as before; lookupStale returns it unmarked, uncounted', async () => {
    const { strata } = await engine(600);
    const key = deriveKey(strata.namespace, LLM, 'q');
    await strata.update(key, [{ text: 'a' }], { ttlMs: 60_000 });
    expect(await strata.lookup(key)).toMatchObject({ tier: 'memory' });
    const found = await strata.lookupStale(key);
    expect(found?.stale).toBeUndefined();
    expect((await strata.stats({ store: false })).stale).toBe(0);
  });

  it('without a grace an expired entry is gone as before; a per-write grace overrides the config', async () => {
    const { strata, clock } = await engine(0);
    const plain = deriveKey(strata.namespace, LLM, 'plain');
    const kept = deriveKey(strata.namespace, LLM, 'kept');
    await strata.update(plain, [{ text: 'a' }], { ttlMs: 60_000 });
    await strata.update(kept, [{ text: 'b' }], { ttlMs: 60_000, staleMs: 120_000 });
    clock.advance(61_000);
    expect(await strata.lookup(plain)).toBeUndefined();
    expect(await strata.lookupStale(plain)).toBeUndefined();
    expect(await strata.lookupStale(kept)).toMatchObject({ stale: true });
  });

  it('under encryption a stale answer opens with the keys it was sealed under, and only with them', async () => {
    const clock = new ManualClock(START);
    const dir = mkdtempSync(join(tmpdir(), 'strata-stale-sealed-'));
    dirs.push(dir);
    process.env.STRATA_TEST_STALE_KEY = randomBytes(32).toString('base64');
    const strata = await createStrata(
      {
        defaultTtlSeconds: 60,
        staleIfErrorSeconds: 600,
        coalesceWaitMs: 0,
        encryption: { keys: [{ id: 'k1', keyEnv: 'STRATA_TEST_STALE_KEY' }], active: 'k1' },
        tiers: [{ type: 'sqlite', path: join(dir, 'cache.db'), purgeIntervalSeconds: 0 }],
      },
      { clock, logger: { warn: () => {} } },
    );
    open.push(strata);
    const key = deriveKey(strata.namespace, LLM, 'sealed question');
    await strata.update(key, [{ text: 'sealed answer' }], { ttlMs: 60_000 });
    expect(await strata.tier('sqlite')!.get(key)).toMatch(/^~s1\.k1\./);
    clock.advance(61_000);
    expect(await strata.lookup(key)).toBeUndefined();
    expect(await strata.lookupStale(key)).toMatchObject({
      stale: true,
      entry: { gens: [{ text: 'sealed answer' }] },
    });
    // A caller with other keys (the gateway's per-tenant sealer) gets nothing, never the answer.
    const other = new Keyring(new Map([['k1', randomBytes(32)]]), 'k1');
    expect(await strata.lookupStale(key, { sealer: other })).toBeUndefined();
  });

  it('the config refuses a negative grace, naming the field', async () => {
    await expect(
      createStrata({ staleIfErrorSeconds: -1, tiers: [{ type: 'memory' }] }, { logger: { warn: () => {} } }),
    ).rejects.toThrow(/staleIfErrorSeconds: /);
  });
});
