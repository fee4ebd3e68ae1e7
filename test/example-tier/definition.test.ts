/**
 * A new tier type is its folder (here examples/custom-tier/) plus one line naming its
 * definition: createCache's `tiers` for an application, src/tiers/registry.ts for a built-in one.
 */
import { AIMessage } from '@langchain/core/messages';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { mapTier } from '../../examples/custom-tier/definition.js';
import { MapTier } from '../../examples/custom-tier/map-tier.js';
import { parseConfig } from '../../src/config/schema.js';
import { defineTier, TierConfigError, tierFields } from '../../src/index.js';
import { createCache } from '../../src/langchain/create.js';
import { holdsCounters } from '../../src/tiers/index.js';
import type { TierCapabilities } from '../../src/tiers/kit/definition.js';

const answer = [{ text: 'Billing.', message: new AIMessage('Billing.') } as never];

describe('a tier defined with defineTier', () => {
  it('is named by its type in a config and serves behind the memory tier', async () => {
    const writer = await createCache({ tiers: [{ type: 'map', name: 'shelf' }] }, { tiers: [mapTier] });
    const shelf = await createCache(
      { tiers: [{ type: 'memory' }, { type: 'map', name: 'shelf' }] },
      { tiers: [mapTier] },
    );
    await shelf.update('Where is my invoice?', 'llm', answer);
    expect((await shelf.lookupWithInfo('Where is my invoice?', 'llm'))?.tier).toBe('memory');
    expect((await shelf.stats()).tiers.map((t) => [t.name, t.type, t.sets])).toEqual([
      ['memory', 'memory', 1],
      ['shelf', 'map', 1],
    ]);
    // Each cache opened its own MapTier: the writer's is empty.
    expect(await writer.lookupWithInfo('Where is my invoice?', 'llm')).toBeNull();
    await shelf.close();
    await writer.close();
  });

  it('has its config validated by its schema, every bad field named', () => {
    expect(() => parseConfig({ tiers: [{ type: 'map', timeoutMs: -5 }] }, [mapTier])).toThrow(
      /tiers\[0\]\.timeoutMs/,
    );
    expect(() => parseConfig({ tiers: [{ type: 'map', maxEntires: 3 }] }, [mapTier])).toThrow(
      /tiers\[0\].*maxEntires/,
    );
    const parsed = parseConfig({ tiers: [{ type: 'map' }] }, [mapTier]).tiers[0];
    expect(parsed).toMatchObject({ type: 'map', timeoutMs: 1_000 });
  });

  it('is unknown to a config parsed without its definition, and then listed once given', () => {
    expect(() => parseConfig({ tiers: [{ type: 'map' }] })).toThrow(
      /unknown tier type "map" \(expected one of: memory, /,
    );
    expect(() => parseConfig({ tiers: [{ type: 'mop' }] }, [mapTier])).toThrow(
      /expected one of: .*, gptcache, map, custom\)/,
    );
  });

  it('is opened only when a config names it, with its parsed config and its name', async () => {
    const open = vi.fn(mapTier.open);
    const spied = { ...mapTier, open };
    const memoryOnly = await createCache({ tiers: [{ type: 'memory' }] }, { tiers: [spied] });
    expect(open).not.toHaveBeenCalled();
    await memoryOnly.close();
    const cache = await createCache({ tiers: [{ type: 'map', name: 'shelf' }] }, { tiers: [spied] });
    expect(open).toHaveBeenCalledTimes(1);
    expect(open.mock.calls[0]![0]).toMatchObject({ type: 'map', name: 'shelf', timeoutMs: 1_000 });
    expect(open.mock.calls[0]![1]).toMatchObject({ name: 'shelf' });
    await cache.close();
  });

  it('declares its capabilities: counters for the fleet, prompts needing storePrompt', () => {
    const counting = like('tally', { counters: true });
    expect(holdsCounters({ type: 'tally' }, [counting])).toBe(true);
    expect(holdsCounters({ type: 'map' }, [mapTier])).toBe(false);
    expect(holdsCounters({ type: 'sqlite' })).toBe(true);
    const reading = like('reader', { prompts: true });
    expect(() => parseConfig({ storePrompt: false, tiers: [{ type: 'reader' }] }, [reading])).toThrow(
      /tiers\[0\]\.type: a reader tier compares prompt texts, so it needs storePrompt: true/,
    );
  });

  it('may not take the type of a built-in tier or of another definition', () => {
    const shadow = like('memory', {});
    expect(() => parseConfig({ tiers: [{ type: 'memory' }] }, [shadow])).toThrow(TierConfigError);
    expect(() => parseConfig({ tiers: [{ type: 'map' }] }, [mapTier, mapTier])).toThrow(
      /tier type "map" is defined twice/,
    );
  });

  it('must have the fields every tier has (the cache guards a tier by them)', () => {
    // @ts-expect-error: a schema without tierFields is not a tier's schema
    defineTier({ ...mapTier, type: 'bare', schema: z.strictObject({ type: z.literal('bare') }) });
  });
});

/** Another tier type kept in a Map, with these capabilities. */
function like<const T extends string>(type: T, capabilities: TierCapabilities) {
  return defineTier({
    type,
    schema: z.strictObject({ type: z.literal(type), ...tierFields }),
    capabilities,
    open: async (_config, ctx) => new MapTier(ctx.name, ctx.clock),
  });
}
