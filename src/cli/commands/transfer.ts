/**
 * `strata export` / `strata import`: entries as JSON Lines, one whole entry (core/entry.ts) per
 * line. An entry carries its whole key (namespace, llm string, prompt, hash), timestamps and
 * tags, and re-encodes to the same payload, so export then import into an empty cache
 * reproduces every entry exactly.
 */

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { decodeEntry, type Entry, encodeEntry, isEntry, isExpired } from '../../core/entry.js';
import { hashKey } from '../../core/key.js';
import { type Command, progress, stringFlag } from '../context.js';

export const exportEntries: Command = async ({ flags, io, open }) => {
  const { cache } = await open();
  try {
    const tiers = cache.tiers.tiers;
    const name = stringFlag(flags, 'tier') ?? tiers[tiers.length - 1]!.name;
    const tier = cache.tiers.tier(name);
    if (!tier) {
      io.err(`strata export: no tier named "${name}" (configured: ${tiers.map((t) => t.name).join(', ')})`);
      return 2;
    }
    const file = stringFlag(flags, 'file');
    const sink = file ? createWriteStream(file) : process.stdout;
    const namespace = flags.all ? undefined : cache.namespace;
    const shown = progress(io, `exported from ${name}`);
    let count = 0;
    for await (const listed of tier.entries(namespace)) {
      const entry = decodeEntry(listed.payload);
      if (!entry) {
        io.err(`skipped a corrupt entry (${listed.namespace}/${listed.hash.slice(0, 12)})`);
        continue;
      }
      if (!sink.write(`${JSON.stringify(entry)}\n`)) await once(sink, 'drain');
      shown.tick(++count);
    }
    if (file)
      await new Promise<void>((resolve, reject) =>
        (sink as NodeJS.WritableStream).end((e?: Error) => (e ? reject(e) : resolve())),
      );
    shown.done(count);
    return 0;
  } finally {
    await cache.close();
  }
};

export const importEntries: Command = async ({ flags, io, open }) => {
  const { cache } = await open();
  try {
    const file = stringFlag(flags, 'file');
    const lines = createInterface({
      input: file ? createReadStream(file) : process.stdin,
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    const shown = progress(io, 'imported');
    let imported = 0;
    let skipped = 0;
    let lineNo = 0;
    const now = cache.tiers.now();
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      const entry = parseLine(line);
      const intact =
        entry && (entry.prompt === undefined || hashKey(entry.ns, entry.llm, entry.prompt) === entry.k);
      if (!entry || !intact) {
        io.err(
          `line ${lineNo}: not a valid Strata entry${entry ? ' (its key does not match its content)' : ''}; skipped`,
        );
        skipped++;
        continue;
      }
      if (isExpired(entry, now)) {
        skipped++;
        continue;
      }
      const key = { namespace: entry.ns, llmString: entry.llm, prompt: entry.prompt ?? '', hash: entry.k };
      const stored = await cache.tiers.restore(key, encodeEntry(entry));
      if (stored.length > 0) shown.tick(++imported);
      else skipped++;
    }
    shown.done(imported);
    if (skipped > 0) io.err(`skipped ${skipped} lines (invalid, expired, or refused by every tier)`);
    return skipped > 0 && imported === 0 ? 1 : 0;
  } finally {
    await cache.close();
  }
};

function parseLine(line: string): Entry | undefined {
  try {
    const parsed: unknown = JSON.parse(line);
    return isEntry(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
