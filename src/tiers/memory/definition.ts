import { defineTier } from '../kit/definition.js';
import { memoryTierSchema } from './config.js';

export const memoryTier = defineTier({
  type: 'memory',
  schema: memoryTierSchema,
  // Nothing outlives the process: not sealed under `encryption`.
  capabilities: { volatile: true },
  async open(config, ctx) {
    const { MemoryTier } = await import('./index.js');
    return new MemoryTier({ ...config, name: ctx.name, clock: ctx.clock, onEviction: ctx.onEviction });
  },
});
