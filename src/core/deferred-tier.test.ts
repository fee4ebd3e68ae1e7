import { describe, expect, it } from 'vitest';
import { storedText } from '../../test/support/entries.js';
import { MemoryTier } from '../tiers/memory/index.js';
import { DEFAULT_BREAKER } from './breaker.js';
import { ManualClock, systemClock } from './clock.js';
import { DeferredTier, openOrDefer } from './deferred-tier.js';
import { deriveKey } from './key.js';
import { Manager } from './manager.js';
import type { Tier } from './tier.js';

const key = deriveKey('n', 'l', 'p');

/** A backend that refuses to open `failures` times, then opens (a memory tier). */
function flaky(failures: number, reason = 'disk on fire') {
  const state = { attempts: 0, opened: [] as MemoryTier[], closed: 0 };
  const open = async (): Promise<Tier> => {
    state.attempts++;
    if (state.attempts <= failures) throw new Error(reason);
    const tier = new MemoryTier({ name: 'store', maxEntries: 100, maxBytes: 1 << 20, clock: systemClock });
    state.opened.push(tier);
    const close = tier.close.bind(tier);
    tier.close = () => {
      state.closed++;
      close();
    };
    return tier;
  };
  return { state, open };
}

const options = { name: 'store', type: 'memory', retryMs: 10, maxRetryMs: 40, isConfigError: () => false };

async function attempt(fn: () => unknown): Promise<unknown> {
  return fn();
}

describe('DeferredTier', () => {
  it('a tier that cannot be opened is down with the reason, and every call fails naming it', async () => {
    const { open } = flaky(Number.POSITIVE_INFINITY);
    const tier = await openOrDefer(open, { ...options, retryMs: 60_000, maxRetryMs: 60_000 });
    expect(tier).toBeInstanceOf(DeferredTier);
    expect(await tier.health()).toEqual({ status: 'down', reason: expect.stringMatching(/disk on fire/) });
    await expect(attempt(() => tier.get(key))).rejects.toThrow(/store.*disk on fire/);
    await expect(attempt(() => tier.set(key, storedText('a', systemClock)))).rejects.toThrow(/disk on fire/);
    await expect(attempt(() => tier.stats())).rejects.toThrow(/disk on fire/);
    await tier.close();
    expect(await tier.health()).toMatchObject({ status: 'down', reason: 'closed' });
  });

  it('returns the tier itself when it opens at once, and rethrows config errors', async () => {
    const { open } = flaky(0);
    expect(await openOrDefer(open, options)).toBeInstanceOf(MemoryTier);
    const bad = flaky(1, 'threshold: required');
    await expect(openOrDefer(bad.open, { ...options, isConfigError: () => true })).rejects.toThrow(
      /threshold: required/,
    );
  });

  it('re-opens in the background with backoff and then serves, without being rebuilt', async () => {
    const { open, state } = flaky(3);
    const tier = await openOrDefer(open, options);
    await expect.poll(async () => (await tier.health()).status, { timeout: 5_000, interval: 5 }).toBe('up');
    expect(state.attempts).toBe(4);
    expect(await tier.set(key, storedText('a', systemClock))).toBe(true);
    expect(await tier.get(key)).toContain('"a"');
    await tier.close();
    expect(state.closed).toBe(1);
  });

  it('does not try to re-open on every call: at most once per backoff period', async () => {
    const { open, state } = flaky(Number.POSITIVE_INFINITY);
    const tier = await openOrDefer(open, { ...options, retryMs: 60_000, maxRetryMs: 60_000 });
    for (let i = 0; i < 1_000; i++) await attempt(() => tier.get(key)).catch(() => {});
    await tier.health();
    expect(state.attempts).toBe(1);
    await tier.close();
  });

  it('a call that finds a re-open due waits for it and is served when it succeeds', async () => {
    const { open, state } = flaky(1);
    const tier = await openOrDefer(open, { ...options, retryMs: 1, maxRetryMs: 1 });
    await new Promise((r) => setTimeout(r, 5));
    expect(await tier.set(key, storedText('late', systemClock))).toBe(true);
    expect(state.attempts).toBe(2);
    await tier.close();
  });

  it('stops retrying once closed, and closes a tier that opened after close', async () => {
    let finish: (tier: Tier) => void = () => {};
    let attempts = 0;
    const tier = new DeferredTier({
      ...options,
      open: () => {
        attempts++;
        return new Promise<Tier>((resolve) => {
          finish = resolve;
        });
      },
    });
    await tier.close();
    const late = new MemoryTier({ name: 'store', maxEntries: 10, maxBytes: 1 << 20, clock: systemClock });
    let lateClosed = false;
    late.close = () => {
      lateClosed = true;
    };
    finish(late);
    await expect.poll(() => lateClosed, { timeout: 1_000 }).toBe(true);
    expect(attempts).toBe(1);
  });

  it('the manager serves from the other tiers and reports the deferred one down with its reason', async () => {
    const clock = new ManualClock();
    const warnings: string[] = [];
    const down = await openOrDefer(flaky(Number.POSITIVE_INFINITY, 'file is not a database').open, {
      ...options,
      name: 'sqlite',
      type: 'sqlite',
      retryMs: 60_000,
      maxRetryMs: 60_000,
    });
    const memory = new MemoryTier({ name: 'memory', maxEntries: 10, maxBytes: 1 << 20, clock });
    const manager = new Manager(
      [memory, down].map((tier) => ({ tier, options: { timeoutMs: 200, breaker: DEFAULT_BREAKER } })),
      { clock, coalesceWaitMs: 0, storePrompt: true, logger: { warn: (m) => warnings.push(m) } },
    );
    const k = deriveKey('ns', 'llm', 'prompt');
    await manager.update(k, [{ text: 'answer' }]);
    expect((await manager.lookup(k))?.tier).toBe('memory');
    expect(await manager.lookup(deriveKey('ns', 'llm', 'other'))).toBeUndefined();
    const health = await manager.health();
    expect(health.status).toBe('degraded');
    expect(health.tiers[1]).toMatchObject({
      status: 'down',
      reason: expect.stringMatching(/not a database/),
    });
    expect(warnings.filter((w) => /tier sqlite: .* failed/.test(w))).toHaveLength(1);
    await manager.close();
  });
});
