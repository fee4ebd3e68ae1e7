import { defineTier } from '../kit/definition.js';
import { gptcacheTierSchema } from './config.js';

export const gptcacheTier = defineTier({
  type: 'gptcache',
  schema: gptcacheTierSchema,
  // GPTCache keys its entries by prompt text, and keeps question and answer text in its own
  // server, where Strata cannot seal them.
  capabilities: { similarity: true, prompts: true, plaintext: true },
  async open(config, ctx) {
    const { GptcacheTier } = await import('./index.js');
    return new GptcacheTier({ ...config, name: ctx.name, clock: ctx.clock });
  },
});
