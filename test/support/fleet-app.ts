/**
 * An application process for the fleet-counter tests: opens the cache from a config (JSON, argv[2]),
 * stores and looks up `hits` answers (each with usage metadata) in namespace `ns-<prefix>`, looks
 * up `misses` unknown prompts in `ns-<prefix>-cold` (where no similarity tier can match them) and
 * `similar` paraphrases of stored prompts that only a similarity tier answers, prints `done`,
 * keeps running (reporting on its timer) until stdin closes, then closes the cache (its last
 * report) and exits.
 */
import { AIMessage } from '@langchain/core/messages';
import type { Generation } from '@langchain/core/outputs';
import { createCache } from '../../src/langchain/create.js';

const [configJson, prefix, hits, misses, similar] = process.argv.slice(2);
const root = await createCache(JSON.parse(configJson!), {
  logger: { warn: (m) => process.stderr.write(`${m}\n`) },
});
const cache = root.withNamespace(`ns-${prefix}`);
const cold = root.withNamespace(`ns-${prefix}-cold`);
const llm = '_model:"base_chat_model",_type:"openai",baseURL:"https://api.openai.com/v1",model:"gpt-4o-mini"';
const answer = (text: string): Generation[] => [
  {
    text,
    message: new AIMessage({
      content: text,
      usage_metadata: { input_tokens: 100, output_tokens: 50, total_tokens: 150 },
    }),
  } as Generation,
];
for (let i = 0; i < Number(hits); i++) {
  await cache.update(`${prefix} question ${i}`, llm, answer(`answer ${i}`));
  if (!(await cache.lookup(`${prefix} question ${i}`, llm))) throw new Error(`no hit for ${i}`);
}
for (let i = 0; i < Number(misses); i++) {
  if (await cold.lookup(`${prefix} never stored ${i}`, llm)) throw new Error(`unexpected hit ${i}`);
}
for (let i = 0; i < Number(similar ?? 0); i++) {
  if (!(await cache.lookup(`${prefix} question ${i} please`, llm)))
    throw new Error(`no similar hit for ${i}`);
}
process.stdout.write('done\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void root.close().then(() => process.exit(0));
});
