import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FaultyTier } from '../../test/support/faulty-tier.js';
import { runTs } from '../../test/support/run-ts.js';
import { IncompleteOperationError } from '../errors.js';
import { MemoryTier } from '../tiers/memory/index.js';
import { DEFAULT_BREAKER } from './breaker.js';
import { ManualClock } from './clock.js';
import { deriveKey } from './key.js';
import { Manager } from './manager.js';
import type { Tier } from './tier.js';

const key = (p: string) => deriveKey('ns', 'llm', p);
const gens = (text: string) => [{ text }];

function setup(
  tiers: Array<{ tier: Tier; ttlMs?: number; timeoutMs?: number }>,
  clock = new ManualClock(),
  coalesceWaitMs = 0,
) {
  const warnings: string[] = [];
  const manager = new Manager(
    tiers.map((t) => ({
      tier: t.tier,
      options: {
        timeoutMs: t.timeoutMs ?? 1_000,
        breaker: { ...DEFAULT_BREAKER, failureThreshold: 3, cooldownMs: 1_000 },
        ...(t.ttlMs ? { ttlMs: t.ttlMs } : {}),
      },
    })),
    { clock, coalesceWaitMs, storePrompt: true, logger: { warn: (m) => warnings.push(m) } },
  );
  return { manager, warnings, clock };
}

const memory = (clock: ManualClock, name: string) =>
  new MemoryTier({ name, maxEntries: 100, maxBytes: 1e7, clock });
const settle = () => new Promise((r) => setTimeout(r, 10));

describe('manager waterfall', () => {
  it('serves from the first tier that has the entry and backfills the faster ones with the remaining TTL', async () => {
    const clock = new ManualClock();
    const l1 = memory(clock, 'l1');
    const l2 = memory(clock, 'l2');
    const l3 = memory(clock, 'l3');
    const { manager } = setup([{ tier: l1 }, { tier: l2 }, { tier: l3 }], clock);
    const k = key('q');
    await manager.update(k, gens('a'), { ttlMs: 10_000 });
    l1.delete(k);
    l2.delete(k);
    clock.advance(4_000);
    const backfills: string[] = [];
    manager.events.on('backfill', (e) => backfills.push(`${e.from}->${e.to}`));
    const hit = await manager.lookup(k);
    expect(hit?.tier).toBe('l3');
    await settle();
    expect(backfills.sort()).toEqual(['l3->l1', 'l3->l2']);
    expect((await manager.lookup(k))?.tier).toBe('l1');
    // The backfilled copy expires with the original, not 10 s after the backfill.
    clock.advance(6_001);
    expect(await manager.lookup(k)).toBeUndefined();
    const stats = await manager.stats();
    expect(stats.tiers.map((t) => t.backfills)).toEqual([1, 1, 0]);
  });

  it('caps an entry at a tier TTL without extending it elsewhere', async () => {
    const clock = new ManualClock();
    const l1 = memory(clock, 'l1');
    const l2 = memory(clock, 'l2');
    const { manager } = setup([{ tier: l1, ttlMs: 1_000 }, { tier: l2 }], clock);
    await manager.update(key('q'), gens('a'), { ttlMs: 60_000 });
    clock.advance(1_500);
    expect((await manager.lookup(key('q')))?.tier).toBe('l2');
  });

  it('writes through to every tier even when one fails', async () => {
    const clock = new ManualClock();
    const broken = new FaultyTier(memory(clock, 'inner'), 'broken');
    broken.fault = 'throw';
    const healthy = memory(clock, 'healthy');
    const { manager, warnings } = setup([{ tier: broken }, { tier: healthy }], clock);
    await manager.update(key('q'), gens('a'));
    expect(healthy.get(key('q'))).toBeDefined();
    expect((await manager.lookup(key('q')))?.tier).toBe('healthy');
    expect(warnings.filter((w) => w.includes('broken:'))).toHaveLength(1);
  });

  it('turns a hanging tier into a miss after timeoutMs', async () => {
    const clock = new ManualClock();
    const slow = new FaultyTier(memory(clock, 'inner'), 'slow');
    const backing = memory(clock, 'backing');
    const { manager } = setup([{ tier: slow, timeoutMs: 30 }, { tier: backing }], clock);
    await manager.update(key('q'), gens('a'));
    slow.fault = 'hang';
    const started = performance.now();
    const hit = await manager.lookup(key('q'));
    expect(hit?.tier).toBe('backing');
    expect(performance.now() - started).toBeLessThan(5_000);
    // The get timed out; the backfill into the hanging tier times out too.
    expect((await manager.stats()).tiers[0]?.timeouts).toBeGreaterThanOrEqual(1);
  });

  it('answers each lookup once when a read times out on one tier and the next answers, the late reply ignored', async () => {
    // A lookup in flight is the deadline's waiter (lookup-run.ts): after its first tier's read
    // times out it is armed again for the next tier, and the first tier's late answer (or its
    // stale deadline entry) must neither answer it twice nor cut the second read short.
    const clock = new ManualClock();
    const late = new FaultyTier(memory(clock, 'inner-late'), 'late');
    const second = new FaultyTier(memory(clock, 'inner-second'), 'second');
    const { manager } = setup(
      [
        { tier: late, timeoutMs: 20 },
        { tier: second, timeoutMs: 1_000 },
      ],
      clock,
      50,
    );
    const keys = Array.from({ length: 40 }, (_, i) => key(`late-${i}`));
    for (const k of keys) await manager.update(k, gens(`a ${k.prompt}`));
    late.fault = 'slow';
    late.slowMs = 60; // answers after its deadline, with the right entry
    second.fault = 'slow';
    second.slowMs = 80; // answers after the first tier's late reply came in
    const told: string[] = [];
    await Promise.all(
      keys.map(
        (k) =>
          new Promise<void>((resolve, reject) =>
            manager.lookupInto(k, undefined, {
              found: (hit) => {
                told.push(`${k.prompt}:${hit?.tier}:${hit?.entry.gens[0]?.text}`);
                setTimeout(resolve, 100); // anything told after this would be counted too
              },
              failed: reject,
            }),
          ),
      ),
    );
    expect(told.sort()).toEqual(keys.map((k) => `${k.prompt}:second:a ${k.prompt}`).sort());
    const stats = await manager.stats();
    expect(stats.lookups).toBe(40);
    expect(stats.hits).toBe(40);
    // Every read timed out (a backfill into the slow tier may time out too).
    expect(stats.tiers[0]?.timeouts).toBeGreaterThanOrEqual(40);
    expect(stats.tiers[0]?.hits).toBe(0);
    expect(stats.tiers[1]?.hits).toBe(40);
  });

  it('opens the breaker after repeated failures, skips the tier, and probes it after the cool-down', async () => {
    const clock = new ManualClock();
    const flaky = new FaultyTier(memory(clock, 'inner'), 'flaky');
    const { manager, warnings } = setup([{ tier: flaky }], clock);
    flaky.fault = 'throw';
    for (let i = 0; i < 3; i++) await manager.lookup(key(`q${i}`));
    expect((await manager.health()).tiers[0]).toMatchObject({ breaker: 'open', status: 'down' });
    const callsWhenOpened = flaky.calls;
    for (let i = 0; i < 10; i++) expect(await manager.lookup(key('q'))).toBeUndefined();
    expect(flaky.calls).toBe(callsWhenOpened);
    flaky.fault = 'none';
    clock.advance(1_001);
    await manager.update(key('q'), gens('back'));
    expect((await manager.lookup(key('q')))?.entry.gens[0]?.text).toBe('back');
    expect((await manager.health()).tiers[0]).toMatchObject({ breaker: 'closed', status: 'up' });
    expect(warnings.some((w) => w.includes('is down'))).toBe(true);
    expect(warnings.some((w) => w.includes('recovered'))).toBe(true);
    expect(warnings.filter((w) => w.includes('get failed'))).toHaveLength(1);
  });

  it('logs a tier that fails and succeeds in turn once, not once per failure', async () => {
    const clock = new ManualClock();
    const flaky = new FaultyTier(memory(clock, 'inner'), 'flaky');
    const { manager, warnings } = setup([{ tier: flaky }], clock);
    for (let i = 0; i < 20; i++) {
      flaky.fault = 'throw';
      await manager.lookup(key(`q${i}`));
      flaky.fault = 'none';
      await manager.lookup(key(`q${i}`));
    }
    expect(warnings.filter((w) => w.includes('get failed'))).toHaveLength(1);
  });

  it('never lets a throwing tier reach the caller of any operation', async () => {
    const clock = new ManualClock();
    const bad = new FaultyTier(memory(clock, 'inner'), 'bad');
    bad.fault = 'throw';
    const { manager } = setup([{ tier: bad }], clock);
    await expect(manager.lookup(key('q'))).resolves.toBeUndefined();
    await expect(manager.update(key('q'), gens('a'))).resolves.toBeUndefined();
    // Erasures are not lookups: one that could not run says so, with the tier and the reason.
    for (const erase of [
      () => manager.delete(key('q')),
      () => manager.clear(),
      () => manager.invalidateTag('t'),
    ])
      await expect(erase()).rejects.toMatchObject({
        code: 'STRATA_INCOMPLETE_OPERATION',
        removed: 0,
        failures: [{ tier: 'bad' }],
      });
    await expect(manager.stats()).resolves.toMatchObject({ tiers: [{ name: 'bad' }] });
    await expect(manager.health()).resolves.toMatchObject({ status: 'down' });
  });

  it('refuses duplicate tier names', () => {
    const clock = new ManualClock();
    expect(() => setup([{ tier: memory(clock, 'x') }, { tier: memory(clock, 'x') }], clock)).toThrow(
      /named "x"/,
    );
  });
});

describe('stats', () => {
  it('asks the tiers what they hold only when the store part is wanted', async () => {
    const clock = new ManualClock();
    const tier = memory(clock, 'm');
    const { manager } = setup([{ tier }], clock);
    await manager.update(key('q'), gens('a'));
    let asked = 0;
    const stats = tier.stats.bind(tier);
    tier.stats = () => {
      asked++;
      return stats();
    };
    expect((await manager.stats()).tiers[0]?.store?.entries).toBe(1);
    expect(asked).toBe(1);
    const counters = await manager.stats({ store: false });
    expect(counters.tiers[0]?.store).toBeUndefined();
    expect(counters.updates).toBe(1);
    expect(asked).toBe(1);
  });
});

describe('coalescing', () => {
  it('makes concurrent misses of one key wait for the first caller and hands each a fresh copy', async () => {
    const clock = new ManualClock();
    const { manager } = setup([{ tier: memory(clock, 'm') }], clock, 5_000);
    const k = key('popular');
    const leader = await manager.lookup(k);
    expect(leader).toBeUndefined();
    const followers = Array.from({ length: 20 }, () => manager.lookup(k));
    await manager.update(k, gens('the answer'));
    const hits = await Promise.all(followers);
    expect(hits.every((h) => h?.entry.gens[0]?.text === 'the answer' && h.coalesced)).toBe(true);
    hits[0]!.entry.gens[0]!.text = 'mutated';
    expect(hits[1]!.entry.gens[0]!.text).toBe('the answer');
    expect((await manager.stats()).coalesced).toBe(20);
  });

  it('keeps the process alive while a caller waits on a lease (the lease alone does not)', async () => {
    // Before: the lease timer was unref'd, so a script whose only pending work was a waiting
    // lookup exited mid-await (code 13) instead of getting its miss.
    const { stdout } = await runTs(join(import.meta.dirname, '../../test/support/coalesce-waiter.ts'), []);
    expect(stdout).toMatch(/^waited \d+ ms, got null$/m);
  });

  it('releases waiters with a miss when the leader never stores an answer', async () => {
    const clock = new ManualClock();
    const { manager } = setup([{ tier: memory(clock, 'm') }], clock, 30);
    const k = key('doomed');
    await manager.lookup(k);
    const follower = await manager.lookup(k);
    expect(follower).toBeUndefined();
    expect(await manager.lookup(k)).toBeUndefined();
  });
});

describe('close', () => {
  it('waits for a backfill under way before closing the tiers, so it lands instead of failing', async () => {
    const clock = new ManualClock();
    const upper = new FaultyTier(memory(clock, 'inner-upper'), 'upper');
    const lower = memory(clock, 'lower');
    const { manager, warnings } = setup([{ tier: upper }, { tier: lower }], clock);
    await manager.update(key('q'), gens('a'));
    await upper.clear(); // only the lower tier holds it now
    upper.fault = 'slow'; // the backfill's set takes 50 ms
    upper.slowMs = 50;
    const order: string[] = [];
    const innerSet = upper.set.bind(upper);
    upper.set = async (k, e) => {
      const ok = await innerSet(k, e);
      order.push('backfilled');
      return ok;
    };
    const innerClose = upper.close.bind(upper);
    upper.close = async () => {
      order.push('closed');
      return innerClose();
    };
    expect((await manager.lookup(key('q')))?.tier).toBe('lower');
    await manager.close();
    expect(order).toEqual(['backfilled', 'closed']);
    expect(warnings.filter((w) => w.includes('failed'))).toEqual([]);
  });

  it('after close, lookups are misses and updates are dropped without touching a tier, said once', async () => {
    const clock = new ManualClock();
    const tier = new FaultyTier(memory(clock, 'inner'), 'only');
    const { manager, warnings } = setup([{ tier }], clock);
    await manager.update(key('q'), gens('a'));
    await manager.close();
    const calls = tier.calls;
    await expect(manager.lookup(key('q'))).resolves.toBeUndefined();
    await expect(manager.update(key('r'), gens('b'))).resolves.toBeUndefined();
    await expect(manager.clear()).rejects.toBeInstanceOf(IncompleteOperationError);
    expect(tier.calls).toBe(calls);
    expect(warnings.filter((w) => w.includes('after close()'))).toEqual([
      '[strata] lookup after close(): the cache is closed, so this is a miss and nothing is stored',
    ]);
  });
});
