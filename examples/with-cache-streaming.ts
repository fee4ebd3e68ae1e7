/**
 * `withCache`: a chat model whose streams are cached, with hit information on every answer.
 *
 *   OPENAI_API_KEY=sk-... npx tsx examples/with-cache-streaming.ts
 *
 * OPENAI_BASE_URL points it at any OpenAI-compatible server instead of api.openai.com.
 */
import type { AIMessageChunk } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { createCache, withCache } from 'strata-cache';

const cache = await createCache({ tiers: [{ type: 'memory' }] });
const model = withCache(
  new ChatOpenAI({
    model: 'gpt-4o-mini',
    apiKey: process.env.OPENAI_API_KEY,
    configuration: { baseURL: process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1' },
  }),
  cache,
  { replayChunks: 4 }, // a hit is replayed in about four chunks, so it still streams
);

for (const attempt of ['first', 'second']) {
  let full: AIMessageChunk | undefined;
  let chunks = 0;
  process.stdout.write(`${attempt} stream: `);
  for await (const chunk of await model.stream('Explain rate limits in one sentence.')) {
    process.stdout.write(chunk.text);
    full = full ? full.concat(chunk) : chunk;
    chunks++;
  }
  // Whether the answer came from the cache, and from which tier, is on the assembled message.
  console.log(`\n  ${chunks} chunks, strata: ${JSON.stringify(full?.response_metadata.strata)}`);
}

await cache.close();
