/**
 * The example tier of docs/custom-tiers.md (examples/custom-tier/, whose test checks the page
 * shows that very code): it passes the published conformance suite, and createCache takes it
 * beside the built-in tiers.
 */
import { AIMessage } from '@langchain/core/messages';
import { describe, expect, it } from 'vitest';
import { MapTier } from '../../examples/custom-tier/map-tier.js';
import { createCache } from '../../src/langchain/create.js';
import { describeTierConformance } from '../../src/testing/conformance.js';

describeTierConformance('example MapTier', async (clock) => {
  const tier = new MapTier('map', clock);
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

describe('a custom tier in createCache', () => {
  it('answers behind the memory tier, which is backfilled from it', async () => {
    const map = new MapTier('map');
    const answer = [{ text: 'Billing.', message: new AIMessage('Billing.') } as never];
    const writer = await createCache({ tiers: [{ type: 'custom', tier: map }] });
    await writer.update('Where is my invoice?', 'llm', answer);
    expect(map.stats().entries).toBe(1);
    const cache = await createCache({ tiers: [{ type: 'memory' }, { type: 'custom', tier: map }] });
    expect((await cache.lookupWithInfo('Where is my invoice?', 'llm'))?.tier).toBe('map');
    expect((await cache.lookupWithInfo('Where is my invoice?', 'llm'))?.tier).toBe('memory');
    expect((await cache.stats()).tiers.map((t) => [t.name, t.hits])).toEqual([
      ['memory', 1],
      ['map', 1],
    ]);
    await cache.close();
    await writer.close();
  });

  it('rejects an object that is not a tier, naming the field and what is missing', async () => {
    await expect(
      createCache({ tiers: [{ type: 'custom', tier: { name: 'x', get() {} } as never }] }),
    ).rejects.toThrow(
      /tiers\[0\]\.tier: must be an object implementing the Tier interface; missing: a `type` string, set\(\), delete\(\)/,
    );
    await expect(
      createCache({ tiers: [{ type: 'custom', name: 'other', tier: new MapTier('map') }] }),
    ).rejects.toThrow(/tiers\[0\]\.name: is "other" but the tier object is named "map"/);
    await expect(
      createCache({ tiers: [{ type: 'custom', tier: new MapTier('memory') }, { type: 'memory' }] }),
    ).rejects.toThrow(/two tiers are named "memory"/);
  });
});
