/**
 * Another process of the fleet, for the shared semantic store test: opens a cache whose semantic
 * tier keeps its entries in PostgreSQL, looks each prompt up once and prints what it got.
 * Usage: semantic-peer.ts <postgres url> <table prefix> <namespace> <llm key> <prompt>...
 */
import { createCache } from '../../src/langchain/create.js';

const [url, tablePrefix, namespace, llmKey, ...prompts] = process.argv.slice(2);
const cache = await createCache(
  {
    coalesceWaitMs: 0,
    tiers: [{ type: 'semantic', store: { type: 'postgres', url: url!, tablePrefix: tablePrefix! } }],
  },
  { logger: { warn: (m) => process.stderr.write(`${m}\n`) } },
);
const view = cache.withNamespace(namespace!);
const results = [];
for (const prompt of prompts) {
  const hit = await view.lookupWithInfo(prompt, llmKey!);
  results.push(
    hit ? { text: hit.generations[0]?.text, tier: hit.tier, matchedPrompt: hit.matchedPrompt } : null,
  );
}
await cache.close();
process.stdout.write(JSON.stringify(results));
