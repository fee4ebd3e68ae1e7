import { decodeEntry, type Entry, entryHasPrompt, generationText } from '../../core/entry.js';
import { deriveKey, hashKey } from '../../core/key.js';
import { type Command, shown, stringFlag } from '../context.js';

/**
 * `strata inspect <prompt> [--llm-key KEY]`: with --llm-key, what each tier holds for exactly that
 * key; without it, every stored entry of that prompt in the namespace, whatever the model. A tier
 * that could not be read (down, locked, damaged) is named with the reason and the exit status is
 * 1: "no entry" is said only of tiers that were read.
 */
export const inspect: Command = async ({ positionals, flags, io, open }) => {
  const prompt = positionals[0];
  if (prompt === undefined) {
    io.err('strata inspect: give the prompt to look up, e.g. strata inspect "Human: hello"');
    return 2;
  }
  const { strata, namespace: own } = await open({ readonly: true });
  try {
    const llmKey = stringFlag(flags, 'llm-key');
    const found: Array<{ tier: string; state: string; entry?: Entry }> = [];
    const failed: Array<{ tier: string; reason: string }> = [];
    if (llmKey !== undefined) {
      for (const inspected of await strata.queries.inspect(deriveKey(own, llmKey, prompt))) {
        if (inspected.failure !== undefined) failed.push({ tier: inspected.tier, reason: inspected.failure });
        else found.push(inspected);
      }
    } else {
      for (const tier of strata.tierNames) {
        const listing = strata.queries.entries(tier, own);
        if (!listing) continue;
        for await (const listed of listing) {
          const entry = decodeEntry(listed.payload);
          if (entry && entryHasPrompt(entry, prompt)) found.push({ tier, state: 'live', entry });
        }
        if (listing.failure !== undefined) failed.push({ tier, reason: listing.failure });
      }
    }
    const namespace = shown(JSON.stringify(own));
    if (!found.some((f) => f.entry)) {
      if (failed.length > 0) {
        io.out(`no entry for this prompt in namespace ${namespace} in the tiers that could be read`);
      } else {
        io.out(`no entry for this prompt in namespace ${namespace}`);
        // LangChain's BaseCache keys a chat model's prompt as its flattened messages.
        if (llmKey === undefined && !/^[A-Za-z]+: /.test(prompt)) {
          io.out(`(a chat model's prompt is stored as "Human: ${shown(prompt)}": try that)`);
        }
      }
    }
    for (const f of found) {
      if (!f.entry) {
        io.out(`${shown(f.tier)}: ${shown(f.state)}`);
        continue;
      }
      const e = f.entry;
      const valid = e.prompt === undefined || hashKey(e.ns, e.llm, e.prompt) === e.k;
      io.out(`${shown(f.tier)}: ${shown(f.state)}${valid ? '' : ' (key mismatch!)'}`);
      io.out(`  key       ${shown(e.k)}`);
      io.out(`  model     ${shown(e.llm)}`);
      io.out(`  created   ${new Date(e.createdAt).toISOString()}`);
      io.out(`  expires   ${e.expiresAt === null ? 'never' : new Date(e.expiresAt).toISOString()}`);
      if (e.tags.length) io.out(`  tags      ${e.tags.map((t) => shown(t)).join(', ')}`);
      for (const g of e.gens) io.out(`  answer    ${answerPreview(generationText(g))}`);
    }
    for (const f of failed) io.out(`${shown(f.tier)}: could not be read (${shown(f.reason)})`);
    if (failed.length > 0) {
      io.err(`strata inspect: ${failed.length} tier(s) could not be read; what they hold is unknown`);
    }
    return failed.length > 0 ? 1 : 0;
  } finally {
    await strata.close();
  }
};

/** The first 200 characters of an answer; its own lines kept, indented under the first. */
function answerPreview(text: string): string {
  const preview = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return shown(preview, { multiline: true }).replaceAll('\n', `\n${' '.repeat(12)}`);
}
