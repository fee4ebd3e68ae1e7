import { z } from 'zod';
import { defineTier, tierFields } from '../../../src/index.js';
import { MapTier } from './index.js';

/** The map tier as a type a config names: `{ type: 'map' }`, with the fields every tier has. */
export const mapTier = defineTier({
  type: 'map',
  schema: z.strictObject({ type: z.literal('map'), ...tierFields }),
  capabilities: {},
  // A driver with a client library would import it here, so a config without this tier never loads it.
  async open(_config, ctx) {
    return new MapTier(ctx.name, ctx.clock);
  },
});
