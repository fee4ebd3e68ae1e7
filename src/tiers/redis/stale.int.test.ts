/**
 * Stale-if-error on a real Redis (core/stale.ts): the key's own TTL (PX) covers the entry's grace,
 * so Redis keeps it past its fresh expiry, and a lookup past that expiry misses while lookupStale
 * still finds it in Redis. Keys live under a prefix of this file's own, removed at the end.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { afterAll, describe, expect, it } from 'vitest';
import { service } from '../../../test/support/services.js';
import { ManualClock } from '../../core/clock.js';
import { deriveKey } from '../../core/key.js';
import { createStrata } from '../../engine/create.js';

const { STRATA_TEST_REDIS_URL: url } = service('redis');
const keyPrefix = `strata-stale-${randomUUID().slice(0, 8)}`;
const raw = createClient({ url });
await raw.connect();
afterAll(async () => {
  for await (const keys of raw.scanIterator({ MATCH: `${keyPrefix}:*`, COUNT: 100 }))
    if (keys.length > 0) await raw.del(keys);
  await raw.close();
});

describe('stale-if-error on Redis', () => {
  it("the key's PX is the fresh TTL plus the grace; past the TTL a lookup misses and lookupStale answers from Redis", async () => {
    const clock = new ManualClock(Date.now());
    const strata = await createStrata(
      {
        namespace: 'stale',
        staleIfErrorSeconds: 600,
        coalesceWaitMs: 0,
        tiers: [{ type: 'redis', url, keyPrefix, bus: false }],
      },
      { clock, logger: { warn: () => {} } },
    );
    try {
      const kept = deriveKey('stale', 'model=m', 'kept for the grace');
      const plain = deriveKey('stale', 'model=m', 'no grace');
      await strata.update(kept, [{ text: 'kept' }], { ttlMs: 2_000 });
      await strata.update(plain, [{ text: 'plain' }], { ttlMs: 2_000, staleMs: 0 });
      const keptTtl = await raw.pTTL(`${keyPrefix}:stale:${kept.hash}`);
      const plainTtl = await raw.pTTL(`${keyPrefix}:stale:${plain.hash}`);
      expect(keptTtl).toBeGreaterThan(600_000);
      expect(keptTtl).toBeLessThanOrEqual(602_000);
      expect(plainTtl).toBeGreaterThan(0);
      expect(plainTtl).toBeLessThanOrEqual(2_000);
      // Past the fresh TTL by the engine's clock: a miss, and the entry is still in Redis.
      clock.advance(3_000);
      expect(await strata.lookup(kept)).toBeUndefined();
      expect(await raw.exists(`${keyPrefix}:stale:${kept.hash}`)).toBe(1);
      expect(await strata.lookupStale(kept)).toMatchObject({
        tier: 'redis',
        stale: true,
        entry: { gens: [{ text: 'kept' }] },
      });
      expect(await strata.lookupStale(plain)).toBeUndefined();
    } finally {
      await strata.close();
    }
  });

  it("an instance waiting for another's answer never takes the entry kept for the grace as that answer", async () => {
    const clock = new ManualClock(Date.now());
    const open = async () =>
      createStrata(
        {
          namespace: 'stale-wait',
          staleIfErrorSeconds: 600,
          coalesceWaitMs: 5_000,
          tiers: [{ type: 'redis', url, keyPrefix, bus: false }],
        },
        { clock, logger: { warn: () => {} } },
      );
    const writer = await open();
    const [a, b] = [await open(), await open()];
    try {
      const key = deriveKey('stale-wait', 'model=m', 'asked by two instances');
      await writer.update(key, [{ text: 'old' }], { ttlMs: 1_000 });
      clock.advance(2_000);
      // A misses and claims the key; B waits for A's answer, polling Redis, which still keeps the old entry.
      expect(await a.lookup(key)).toBeUndefined();
      const waited = b.lookup(key);
      await new Promise((r) => setTimeout(r, 300));
      await a.update(key, [{ text: 'new' }], { ttlMs: 60_000 });
      expect((await waited)?.entry.gens[0]?.text).toBe('new');
    } finally {
      await Promise.all([writer.close(), a.close(), b.close()]);
    }
  });
});
