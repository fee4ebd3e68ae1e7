import { describe, expect, it } from 'vitest';
import { storedText } from '../../../test/support/entries.js';
import { ManualClock } from '../../core/clock.js';
import { deriveKey } from '../../core/key.js';
import { describeTierConformance } from '../../testing/conformance.js';
import { MemoryTier } from './index.js';

describeTierConformance('memory', async (clock) => {
  const tier = new MemoryTier({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, clock });
  return {
    tier,
    corrupt: (key, bytes) => {
      tier.set(key, {
        payload: bytes,
        size: Buffer.byteLength(bytes),
        createdAt: clock.now(),
        expiresAt: null,
        tags: [],
      });
    },
  };
});

describe('memory tier', () => {
  const key = (p: string) => deriveKey('n', 'l', p);

  it('evicts the least recently used entry beyond maxEntries', () => {
    const clock = new ManualClock();
    const evicted: string[] = [];
    const tier = new MemoryTier({
      maxEntries: 3,
      maxBytes: 1e9,
      clock,
      onEviction: (e) => evicted.push(e.hash),
    });
    for (const p of ['a', 'b', 'c']) tier.set(key(p), storedText(p, clock));
    tier.get(key('a')); // a is now the most recent; b is the oldest
    tier.set(key('d'), storedText('d', clock));
    expect(tier.get(key('b'))).toBeUndefined();
    expect(evicted).toEqual([key('b').hash]);
    for (const p of ['a', 'c', 'd']) expect(tier.get(key(p))).toBeDefined();
    expect(tier.stats().entries).toBe(3);
  });

  it('never evicts an entry read since the last eviction pass while an unread one remains', () => {
    const clock = new ManualClock();
    const tier = new MemoryTier({ maxEntries: 4, maxBytes: 1e9, clock });
    for (const p of ['a', 'b', 'c', 'd']) tier.set(key(p), storedText(p, clock));
    for (const p of ['a', 'b', 'd']) tier.get(key(p));
    tier.set(key('e'), storedText('e', clock));
    expect(tier.get(key('c'))).toBeUndefined();
    // a and b were passed over (their marks cleared, moved back); d still carries its mark, so
    // the next eviction passes d over too and takes e, the one never read.
    tier.set(key('f'), storedText('f', clock));
    expect(tier.get(key('e'))).toBeUndefined();
    for (const p of ['a', 'b', 'd', 'f']) expect(tier.get(key(p)), p).toBeDefined();
  });

  it('evicts by bytes and refuses a value larger than the whole budget', () => {
    const clock = new ManualClock();
    const one = storedText('x'.repeat(400), clock);
    const tier = new MemoryTier({ maxEntries: 100, maxBytes: one.size * 2 + 10, clock });
    tier.set(key('1'), one);
    tier.set(key('2'), one);
    expect(tier.stats().entries).toBe(2);
    tier.set(key('3'), one);
    expect(tier.stats().entries).toBe(2);
    expect(tier.get(key('1'))).toBeUndefined();
    expect(tier.stats().bytes).toBeLessThanOrEqual(one.size * 2 + 10);
    expect(tier.set(key('huge'), storedText('y'.repeat(10_000), clock))).toBe(false);
    expect(tier.get(key('huge'))).toBeUndefined();
    expect(tier.stats().entries).toBe(2);
  });

  it('keeps its tag index consistent through overwrite and eviction', () => {
    const clock = new ManualClock();
    const tier = new MemoryTier({ maxEntries: 2, maxBytes: 1e9, clock });
    tier.set(key('a'), storedText('a', clock, ['t']));
    tier.set(key('a'), storedText('a2', clock, ['u']));
    expect(tier.invalidateTag('t')).toBe(0);
    tier.set(key('b'), storedText('b', clock, ['u']));
    tier.set(key('c'), storedText('c', clock, ['u'])); // evicts a
    expect(tier.invalidateTag('u')).toBe(2);
    expect(tier.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });
});
