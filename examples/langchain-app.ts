/**
 * A LangChain app with Strata as its model's cache: memory in front of SQLite.
 *
 *   OPENAI_API_KEY=sk-... npx tsx examples/langchain-app.ts
 *
 * OPENAI_BASE_URL points it at any OpenAI-compatible server instead of api.openai.com. Run it
 * twice: the second process starts with an empty memory tier, and SQLite answers.
 */
import { ChatOpenAI } from '@langchain/openai';
import { createCache } from 'strata-cache';

const cache = await createCache({
  namespace: 'support-bot',
  defaultTtlSeconds: 86_400,
  tiers: [
    { type: 'memory', maxEntries: 10_000 },
    { type: 'sqlite', path: './.strata/example.db' },
  ],
});
cache.on('hit', ({ tier }) => console.log(`  (answered by the ${tier} tier)`));

const model = new ChatOpenAI({
  model: 'gpt-4o-mini',
  apiKey: process.env.OPENAI_API_KEY,
  configuration: { baseURL: process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1' },
  cache,
});

for (const attempt of ['first', 'second']) {
  const started = performance.now();
  const answer = await model.invoke('How do I rotate my API key?');
  const ms = (performance.now() - started).toFixed(1);
  console.log(`${attempt} call (${ms} ms): ${answer.content}`);
}

const stats = await cache.stats();
console.log(`hits per tier: ${stats.tiers.map((t) => `${t.name}=${t.hits}`).join(', ')}`);
await cache.close();
