import { defineTier } from '../kit/definition.js';
import { gptcacheTierSchema } from './config.js';

export const gptcacheTier = defineTier({
  type: 'gptcache',
  schema: gptcacheTierSchema,
  // GPTCache keys its entries by prompt text.
  capabilities: { similarity: true, prompts: true },
  async open(config, ctx) {
    const { GptcacheTier } = await import('./index.js');
    return new GptcacheTier({ ...config, name: ctx.name, clock: ctx.clock });
  },
});
