import { defineTier, tierFields } from 'strata-cache';
import { z } from 'zod';

/** The map tier as a type a config names: `{ type: 'map' }`, with the fields every tier has. */
export const mapTier = defineTier({
  type: 'map',
  schema: z.strictObject({ type: z.literal('map'), ...tierFields }),
  capabilities: {}, // what it can do beyond Tier: { counters?, search?, similarity?, prompts?, volatile?, plaintext? }
  // A driver with a client library imports it here, so a config without this tier never loads it.
  async open(_config, ctx) {
    const { MapTier } = await import('./map-tier.js');
    return new MapTier(ctx.name, ctx.clock);
  },
});
