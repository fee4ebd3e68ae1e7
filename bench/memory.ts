/**
 * Memory-tier hit through StrataCache.lookup vs @langchain/core's InMemoryCache.lookup, same
 * prompts, same llmKey, same stored generations. Strata does more per hit (secret stripping,
 * key checks, fresh objects for every caller); the point is that it costs no more.
 */
import { InMemoryCache } from '@langchain/core/caches';
import { createCache } from '../src/index.js';
import { chatAnswer, compare, OPENAI_LIKE_LLM_KEY, prompts, report } from './harness.js';

const keys = prompts(1_000);
const strata = await createCache({ tiers: [{ type: 'memory', maxEntries: 10_000 }] });
const langchain = new InMemoryCache();
for (let i = 0; i < keys.length; i++) {
  await strata.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));
  await langchain.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));
}
// Both must really hit, or the comparison means nothing.
if (
  !(await strata.lookup(keys[0]!, OPENAI_LIKE_LLM_KEY)) ||
  !(await langchain.lookup(keys[0]!, OPENAI_LIKE_LLM_KEY))
) {
  throw new Error('benchmark setup: a lookup missed');
}

const results = await compare([
  {
    name: '@langchain/core InMemoryCache.lookup (baseline)',
    op: (i) => langchain.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
  },
  {
    name: 'Strata memory tier, StrataCache.lookup',
    op: (i) => strata.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
  },
]);
report('memory: hit latency, 1,000 keys, ~450-char prompts', results);
await strata.close();
