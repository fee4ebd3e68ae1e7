import { decodeEntry, type Entry, entryHasPrompt, generationText } from '../../core/entry.js';
import { deriveKey, hashKey } from '../../core/key.js';
import { type Command, stringFlag } from '../context.js';

/**
 * `strata inspect <prompt> [--llm-key KEY]`: with --llm-key, what each tier holds for exactly that
 * key; without it, every stored entry of that prompt in the namespace, whatever the model.
 */
export const inspect: Command = async ({ positionals, flags, io, open }) => {
  const prompt = positionals[0];
  if (prompt === undefined) {
    io.err('strata inspect: give the prompt to look up, e.g. strata inspect "Human: hello"');
    return 2;
  }
  const { cache } = await open({ readonly: true });
  try {
    const llmKey = stringFlag(flags, 'llm-key');
    const found: Array<{ tier: string; state: string; entry?: Entry }> = [];
    if (llmKey !== undefined) {
      found.push(...(await cache.internals.queries.inspect(deriveKey(cache.namespace, llmKey, prompt))));
    } else {
      for (const tier of cache.internals.tierNames) {
        for await (const listed of cache.internals.queries.entries(tier, cache.namespace) ?? []) {
          const entry = decodeEntry(listed.payload);
          if (entry && entryHasPrompt(entry, prompt)) found.push({ tier, state: 'live', entry });
        }
      }
    }
    if (!found.some((f) => f.entry)) {
      io.out(`no entry for this prompt in namespace "${cache.namespace}"`);
      // LangChain's BaseCache keys a chat model's prompt as its flattened messages.
      if (llmKey === undefined && !/^[A-Za-z]+: /.test(prompt)) {
        io.out(`(a chat model's prompt is stored as "Human: ${prompt}": try that)`);
      }
    }
    for (const f of found) {
      if (!f.entry) {
        io.out(`${f.tier}: ${f.state}`);
        continue;
      }
      const e = f.entry;
      const valid = e.prompt === undefined || hashKey(e.ns, e.llm, e.prompt) === e.k;
      io.out(`${f.tier}: ${f.state}${valid ? '' : ' (key mismatch!)'}`);
      io.out(`  key       ${e.k}`);
      io.out(`  model     ${e.llm}`);
      io.out(`  created   ${new Date(e.createdAt).toISOString()}`);
      io.out(`  expires   ${e.expiresAt === null ? 'never' : new Date(e.expiresAt).toISOString()}`);
      if (e.tags.length) io.out(`  tags      ${e.tags.join(', ')}`);
      for (const g of e.gens) io.out(`  answer    ${answerPreview(generationText(g))}`);
    }
    return 0;
  } finally {
    await cache.close();
  }
};

function answerPreview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
