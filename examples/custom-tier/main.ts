/**
 * A tier of your own (a Map, in map-tier.ts), declared with defineTier (definition.ts) and named
 * in the config by its type, like a built-in tier.
 *
 *   OPENAI_API_KEY=sk-... npx tsx examples/custom-tier/main.ts
 *
 * OPENAI_BASE_URL points it at any OpenAI-compatible server instead of api.openai.com.
 */
import { ChatOpenAI } from '@langchain/openai';
import { createCache } from 'strata-cache';
import { mapTier } from './definition.js';

const cache = await createCache(
  { tiers: [{ type: 'map', name: 'shelf', ttlSeconds: 3600 }] },
  { tiers: [mapTier] },
);
cache.on('hit', ({ tier }) => console.log(`  (answered by the ${tier} tier)`));

const model = new ChatOpenAI({
  model: 'gpt-4o-mini',
  apiKey: process.env.OPENAI_API_KEY,
  configuration: { baseURL: process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1' },
  cache,
});
for (const attempt of ['first', 'second']) {
  const answer = await model.invoke('Where do I find my invoices?');
  console.log(`${attempt} call: ${answer.content}`);
}

const [shelf] = (await cache.stats()).tiers;
console.log(`tier ${shelf?.name} (type ${shelf?.type}): ${shelf?.sets} stored, ${shelf?.hits} hit`);
await cache.close();
