/**
 * `strata export` / `strata import`: entries as JSON Lines, one whole entry (core/entry.ts) per
 * line. An entry carries its whole key (namespace, llm string, prompt, hash), timestamps and
 * tags, and re-encodes to the same payload, so export then import into an empty cache
 * reproduces every entry exactly.
 *
 * Import trusts nothing in the file: each line is read with a byte cap (never buffered past
 * it), validated against the entry schema (core/entry-schema.ts), held to `--namespace` when
 * one is given, and its key hash recomputed from its namespace, llm string and prompt. A bad
 * line is reported with its number and reason and the import goes on. The summary counts what
 * each tier actually stored (a write a tier accepted into memory, as SQLite queues writes that
 * meet another process's lock, is flushed and counted only once it is on disk), and the exit
 * status is non-zero unless every line was stored by every tier (or skipped as expired). Lines
 * that repeat an earlier line's key are reported; the last one is kept.
 *
 * Export lists what the tier can read: on a damaged file every readable entry is exported, and
 * what could not be read is reported with a non-zero exit status.
 *
 * Under `encryption` (docs/encryption.md) each line is the entry sealed under the active key:
 * `{"sealed":"~s1.<key id>.<...>","ns":<namespace>,"k":<key hash>}`, bound to its namespace and
 * hash. Import opens such lines with the config's keys (any of them, so an export survives a
 * rotation while its key is listed), then checks the entry as any other line.
 */

import { constants as bufferConstants } from 'node:buffer';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type ReadStream, statSync, type WriteStream } from 'node:fs';
import { exportAad } from '../../core/encryption/at-rest.js';
import type { Sealer } from '../../core/encryption/keyring.js';
import { decodeEntry, type Entry, encodeEntry, isExpired } from '../../core/entry.js';
import { entryKeyProblem, validateEntryLine } from '../../core/entry-schema.js';
import { embeddingLlmString } from '../../core/key.js';
import { isUsableAnswer } from '../../core/usable-answer.js';
import { type Command, type Io, jsonShown, shown, stringFlag, systemReason } from '../context.js';
import { createProgress } from '../progress.js';

export const exportEntries: Command = async ({ flags, io, open }) => {
  // Reading must not create anything: a mistyped path is reported, not made into an empty store.
  const { strata, namespace: own } = await open({ readonly: true });
  try {
    const names = strata.tierNames;
    const name = stringFlag(flags, 'tier') ?? names[names.length - 1]!;
    const namespace = flags.all ? undefined : own;
    const listing = strata.queries.entries(name, namespace);
    if (!listing) {
      io.err(
        `strata export: no tier named ${shown(JSON.stringify(name))} (configured: ${shown(names.join(', '))})`,
      );
      return 2;
    }
    const health = (await strata.health()).tiers.find((t) => t.name === name);
    if (health?.status === 'down') {
      io.err(
        `strata export: tier ${shown(name)} is down: ${shown(health.reason ?? 'no reason given')}; nothing exported`,
      );
      return 1;
    }
    const file = stringFlag(flags, 'file');
    // The file is opened before anything is read: a path that cannot be written is one line.
    // (Standard output closed or failing ends the process: context.ts, guardProcessOutput.)
    let fileStream: WriteStream | undefined;
    let writeFailure: unknown;
    if (file) {
      fileStream = createWriteStream(file);
      try {
        await once(fileStream, 'open');
      } catch (error) {
        io.err(`strata export: cannot write ${shown(file)}: ${shown(systemReason(error))}; nothing exported`);
        return 1;
      }
      fileStream.on('error', (error) => {
        writeFailure ??= error;
      });
    }
    const sink: NodeJS.WritableStream = fileStream ?? process.stdout;
    // The count only: a tier's listing does not say how many entries it will yield. Data going to
    // the same terminal would land on the redrawn line, so then progress comes as plain lines.
    const inPlace = io.interactive && !(sink === process.stdout && process.stdout.isTTY);
    const counter = createProgress({ ...io, interactive: inPlace }, { label: `exported from ${name}` });
    let count = 0;
    let undecodable = 0;
    const sealer = strata.queries.sealer;
    for await (const listed of listing) {
      const entry = decodeEntry(listed.payload);
      if (!entry) {
        undecodable++;
        io.err(`skipped a corrupt entry (${shown(listed.namespace)}/${shown(listed.hash.slice(0, 12))})`);
        continue;
      }
      // The same JSON, with no character a terminal would act on (export to stdout is shown).
      if (!sink.write(`${jsonShown(exportLine(entry, sealer))}\n`)) {
        await once(sink, 'drain').catch((error: unknown) => {
          writeFailure ??= error;
        });
      }
      if (writeFailure !== undefined) break;
      counter.update(++count);
    }
    if (fileStream && writeFailure === undefined) {
      const stream = fileStream;
      await new Promise<void>((resolve) =>
        stream.end((error?: Error | null) => {
          if (error) writeFailure ??= error;
          resolve();
        }),
      );
    }
    // Standard output that cannot be written (main() called in-process; the strata process has
    // already ended, context.ts guardProcessOutput): the command fails with the reason.
    if (!fileStream && writeFailure !== undefined) {
      counter.abandon();
      throw writeFailure;
    }
    if (fileStream && writeFailure !== undefined) {
      // What the file holds is not the export: no count is claimed.
      counter.abandon();
      fileStream.destroy();
      io.err(
        `strata export: cannot write ${shown(file!)}: ${shown(systemReason(writeFailure))}; the export is incomplete`,
      );
      return 1;
    }
    counter.done(count);
    if (listing.failure !== undefined) {
      io.err(
        `strata export: tier ${shown(name)}: not every entry could be read; exported the ${count} that could (${shown(listing.failure)})`,
      );
    }
    if (undecodable > 0) io.err(`strata export: ${undecodable} corrupt entries skipped (not exported)`);
    return listing.failure !== undefined || undecodable > 0 ? 1 : 0;
  } finally {
    await strata.close();
  }
};

/** Longest line `strata import` reads by default; `--max-line-bytes` changes it. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;
/** A UTF-8 line of at most this many bytes always decodes to a string V8 can hold. */
const LARGEST_MAX_LINE_BYTES = bufferConstants.MAX_STRING_LENGTH;
/** Rejections reported one by one (with their reason); the rest are counted. */
const LISTED_REASONS = 50;
/** Line numbers of rejections repeated in the summary. */
const LISTED_NUMBERS = 20;

export const importEntries: Command = async ({ flags, io, open }) => {
  const maxLineBytes = parseByteSize(flags['max-line-bytes']);
  if (typeof maxLineBytes === 'string') {
    io.err(`strata import: --max-line-bytes ${maxLineBytes}`);
    return 2;
  }
  const confinedTo = flags['all-namespaces'] ? undefined : stringFlag(flags, 'namespace');
  // Set once the cache is open: sealed lines open with its keys.
  let sealer: Sealer | undefined;
  const trustHashes = flags['trust-hashes'] === true;
  const file = stringFlag(flags, 'file');
  const { strata } = await open({ creates: true });
  sealer = strata.queries.sealer;
  try {
    const tally = newTally(strata.tierNames);
    const local = new Set(strata.queries.able('local'));
    // Embedding vectors (exact keys) are not for tiers that match by similarity: not expected there.
    const similar = new Set(strata.queries.able('similarity'));
    const expectedBy = (llm: string) =>
      embeddingLlmString(llm) ? strata.tierNames.filter((name) => !similar.has(name)) : strata.tierNames;
    // The tiers whose entries outlive this command; with none configured, every tier (all local).
    const persistent = strata.tierNames.filter((name) => !local.has(name));
    const outliving = persistent.length > 0 ? persistent : strata.tierNames;
    // Progress says how far the file was read; what was stored is the summary's.
    const input = file ? createReadStream(file) : process.stdin;
    // A file's size gives the share read (bytes, not lines: nothing is read twice); stdin has none.
    const counter = createProgress(io, { label: 'lines read', total: file ? fileSize(file) : undefined });
    const reject = (no: number, reason: string) => {
      note(tally.rejected, no);
      if (tally.rejected.count <= LISTED_REASONS) io.err(`line ${no}: ${shown(reason)}; skipped`);
    };
    // Why a tier did not store lines: the last failure it reported (a write, a flush).
    const failure = (tier: string, reason: string) => tally.reasons.set(tier, reason);
    const onError = ({ tier, op, error }: { tier: string; op: string; error: Error }) =>
      failure(tier, `${op}: ${error.message}`);
    strata.events.on('error', onError);
    // Each key's first line, to report lines that repeat it (as 32 bytes, to keep memory flat).
    const seen = new Set<string>();
    for await (const line of readLines(input, maxLineBytes)) {
      if ('text' in line && line.text.trim() === '') continue;
      counter.update(++tally.lines, file ? (input as ReadStream).bytesRead : undefined);
      if ('tooLong' in line) {
        reject(line.no, `refused (${line.tooLong} bytes, longer than --max-line-bytes ${maxLineBytes})`);
        continue;
      }
      if ('notUtf8' in line) {
        reject(line.no, 'not a valid Strata entry (not UTF-8 text)');
        continue;
      }
      const checked = checkLine(line.text, { confinedTo, trustHashes, sealer });
      if (typeof checked === 'string') {
        reject(line.no, checked);
        continue;
      }
      if (isExpired(checked, strata.now())) {
        tally.expired++;
        continue;
      }
      let tookIt: string[];
      try {
        const key = {
          namespace: checked.ns,
          llmString: checked.llm,
          prompt: checked.prompt ?? '',
          hash: checked.k,
        };
        const stored = encodeEntry(checked);
        // What a tier hands back must be readable by this version of the cache, or the line
        // would count as imported and never be served.
        if (!decodeEntry(stored.payload)) {
          reject(line.no, 'not a valid Strata entry (this version of Strata cannot read it back)');
          continue;
        }
        // The same check every hit passes: an answer LangChain cannot return would never be served.
        if (!isUsableAnswer(checked, checked.llm)) {
          reject(line.no, 'generations LangChain cannot return for this model (see `isUsableAnswer`)');
          continue;
        }
        tookIt = await strata.restore(key, stored);
        // What a tier accepted but holds in memory lands now, or the tier is named with why not.
        const unflushed = await strata.flushWrites();
        for (const f of unflushed) failure(f.tier, f.reason);
        tookIt = tookIt.filter((name) => !unflushed.some((f) => f.tier === name));
      } catch (error) {
        reject(line.no, `not stored (${(error as Error).message})`);
        continue;
      }
      const digest = Buffer.from(checked.k, 'hex').toString('latin1');
      if (seen.has(digest)) note(tally.duplicates, line.no);
      else seen.add(digest);
      tally.valid++;
      const expected = expectedBy(checked.llm);
      for (const name of expected) tally.expected.set(name, (tally.expected.get(name) ?? 0) + 1);
      if (outliving.every((name) => !expected.includes(name) || tookIt.includes(name))) tally.stored++;
      if (tookIt.length === 0) {
        note(tally.storedByNone, line.no);
        continue;
      }
      for (const name of tookIt) tally.perTier.set(name, (tally.perTier.get(name) ?? 0) + 1);
    }
    counter.done(tally.lines);
    strata.events.off('error', onError);
    return report(io, tally, local, persistent.length > 0);
  } finally {
    await strata.close();
  }
};

/** A regular file's size in bytes; undefined for what has none (a pipe) or cannot be read (said later, by the read). */
function fileSize(path: string): number | undefined {
  try {
    const stat = statSync(path);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

interface Tally {
  /** Non-blank lines read. */
  lines: number;
  /** Valid, unexpired lines handed to the tiers. */
  valid: number;
  /** Of those, lines every tier that outlives the command stored (every tier, when none does). */
  stored: number;
  expired: number;
  rejected: LineSet;
  /** Valid, unexpired lines that every tier refused or failed to store. */
  storedByNone: LineSet;
  /** Lines whose key an earlier line had: the later line replaced it. */
  duplicates: LineSet;
  perTier: Map<string, number>;
  /** Valid lines each tier was expected to store: all of them, but embedding vectors for a similarity tier. */
  expected: Map<string, number>;
  /** Each tier's last reported failure. */
  reasons: Map<string, string>;
}

function newTally(tierNames: string[]): Tally {
  return {
    lines: 0,
    valid: 0,
    stored: 0,
    expired: 0,
    rejected: { count: 0, first: [] },
    storedByNone: { count: 0, first: [] },
    duplicates: { count: 0, first: [] },
    perTier: new Map(tierNames.map((name) => [name, 0])),
    expected: new Map(tierNames.map((name) => [name, 0])),
    reasons: new Map(),
  };
}

/** The entry a line holds, or why it is refused. */
function checkLine(
  text: string,
  options: { confinedTo: string | undefined; trustHashes: boolean; sealer: Sealer | undefined },
): Entry | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `not a valid Strata entry (not JSON: ${(error as Error).message.slice(0, 120)})`;
  }
  const unsealed = openExportLine(parsed, options.sealer);
  if (typeof unsealed === 'string') return unsealed;
  parsed = unsealed.entry;
  const valid = validateEntryLine(parsed);
  if (!valid.ok) return `not a valid Strata entry (${valid.reason})`;
  const entry = valid.entry;
  if (options.confinedTo !== undefined && entry.ns !== options.confinedTo) {
    return (
      `refused (namespace ${JSON.stringify(entry.ns)} is outside --namespace ${JSON.stringify(options.confinedTo)}; ` +
      'pass --all-namespaces to import every namespace)'
    );
  }
  const keyProblem = entryKeyProblem(entry, { trustHashes: options.trustHashes });
  return keyProblem === undefined ? entry : `refused (${keyProblem})`;
}

/** An export line: the entry as JSON, or under encryption the entry sealed (see the top of this file). */
function exportLine(entry: Entry, sealer: Sealer | undefined): string {
  if (!sealer) return JSON.stringify(entry);
  return JSON.stringify({
    sealed: sealer.seal(JSON.stringify(entry), exportAad(entry.ns, entry.k)),
    ns: entry.ns,
    k: entry.k,
  });
}

/**
 * The entry of an import line: a plain line as it is; a sealed one opened with the config's keys
 * and held to the namespace and hash it was sealed for. A string is why not.
 */
function openExportLine(parsed: unknown, sealer: Sealer | undefined): { entry: unknown } | string {
  const line = parsed as { sealed?: unknown; ns?: unknown; k?: unknown } | null;
  if (typeof line !== 'object' || line === null || !('sealed' in line)) return { entry: parsed };
  if (typeof line.sealed !== 'string' || typeof line.ns !== 'string' || typeof line.k !== 'string')
    return 'not a valid Strata entry (a sealed line needs string fields sealed, ns and k)';
  if (!sealer) return 'refused (the line is sealed and this config has no `encryption` keys to open it)';
  const text = sealer.open(line.sealed, exportAad(line.ns, line.k));
  if (text === undefined)
    return "refused (the sealed line does not open with this config's keys: another key, or altered)";
  let entry: unknown;
  try {
    entry = JSON.parse(text);
  } catch {
    return 'not a valid Strata entry (a sealed line that holds no JSON)';
  }
  const inner = entry as { ns?: unknown; k?: unknown } | null;
  if (inner?.ns !== line.ns || inner?.k !== line.k)
    return 'refused (the sealed entry is not the one its line names)';
  return { entry };
}

/**
 * Prints the summary; the exit status is 0 only when every line was stored by every tier or had
 * expired. The headline counts the lines every tier that outlives this command stored: a memory
 * tier's copy is gone when it exits.
 */
function report(io: Io, tally: Tally, local: Set<string>, anyPersistent: boolean): number {
  io.out(`read: ${tally.lines} lines`);
  const each: string[] = [];
  const expected = (name: string) => tally.expected.get(name) ?? 0;
  /** Lines a similarity tier was not given because they hold embedding vectors. */
  const notFor = (name: string) =>
    expected(name) < tally.valid ? `, ${tally.valid - expected(name)} embedding vectors not for it` : '';
  for (const [name, count] of tally.perTier) {
    const reason = count < expected(name) ? tally.reasons.get(name) : undefined;
    each.push(
      `${shown(name)}: ${count}${local.has(name) ? ', process-local' : ''}${notFor(name)}${reason === undefined ? '' : ` — ${shown(reason)}`}`,
    );
  }
  if (!anyPersistent) each.push('no configured tier outlives this command');
  io.out(`stored: ${tally.stored} of ${tally.valid} lines (${each.join('; ')})`);
  const short: string[] = [];
  for (const [name, count] of tally.perTier) {
    io.out(`  ${name}: ${count}${local.has(name) ? ' (process-local: gone when this command exits)' : ''}`);
    if (count < expected(name)) short.push(name);
  }
  io.out(`expired: ${tally.expired}`);
  io.out(`rejected: ${tally.rejected.count}${lineList(tally.rejected)}`);
  io.out(`stored by no tier: ${tally.storedByNone.count}${lineList(tally.storedByNone)}`);
  io.out(
    `duplicate keys: ${tally.duplicates.count}${lineList(tally.duplicates)}` +
      (tally.duplicates.count > 0
        ? " (each repeats an earlier line's key; the last line of a key is kept)"
        : ''),
  );
  if (tally.rejected.count > LISTED_REASONS) {
    io.err(`... and ${tally.rejected.count - LISTED_REASONS} more rejected lines (reasons not listed)`);
  }
  for (const name of short) {
    const reason = tally.reasons.get(name);
    io.err(
      `strata import: tier ${shown(name)} stored ${tally.perTier.get(name)} of the ${expected(name)} valid lines ` +
        (reason === undefined
          ? '(it refused the others, or its breaker was open)'
          : `(it refused or failed the others, or its breaker was open; last failure: ${shown(reason)})`),
    );
  }
  if (tally.storedByNone.count > 0) {
    io.err(`strata import: ${tally.storedByNone.count} valid lines were stored by no tier`);
  }
  return tally.rejected.count > 0 || tally.storedByNone.count > 0 || short.length > 0 ? 1 : 0;
}

/** A count of lines and the first few of their numbers (a file of bad lines keeps memory flat). */
interface LineSet {
  count: number;
  first: number[];
}

function note(set: LineSet, no: number): void {
  set.count++;
  if (set.first.length < LISTED_NUMBERS) set.first.push(no);
}

function lineList(set: LineSet): string {
  if (set.count === 0) return '';
  const more = set.count > set.first.length ? ', ...' : '';
  return ` (line${set.count > 1 ? 's' : ''} ${set.first.join(', ')}${more})`;
}

/** `--max-line-bytes`: bytes, or with a K, M or G suffix (KiB, MiB, GiB). A string is the problem. */
function parseByteSize(value: string | boolean | undefined): number | string {
  if (value === undefined) return DEFAULT_MAX_LINE_BYTES;
  const m = typeof value === 'string' ? /^(\d+)\s*(?:([kmg])(?:i?b)?)?$/i.exec(value.trim()) : null;
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').toLowerCase()] ?? 1;
  const bytes = m ? Number(m[1]) * unit : Number.NaN;
  if (!(bytes >= 1 && bytes <= LARGEST_MAX_LINE_BYTES)) {
    return `must be a byte count from 1 to ${LARGEST_MAX_LINE_BYTES} (optionally with K, M or G); got ${JSON.stringify(value)}`;
  }
  return bytes;
}

export type InputLine =
  | { no: number; text: string }
  /** Longer than the cap: its byte length, counted while its bytes were dropped. */
  | { no: number; tooLong: number }
  | { no: number; notUtf8: true };

/**
 * Splits a byte stream into numbered lines (LF or CRLF). A line's bytes are kept only while
 * they fit in `maxBytes`; past that they are dropped as they arrive and the line comes out as
 * `tooLong`, so no buffer or string larger than the cap is ever built, however long the line.
 * Bytes that are not UTF-8 make the line `notUtf8` rather than text with replacement characters.
 */
export async function* readLines(
  input: AsyncIterable<Buffer | string>,
  maxBytes: number,
): AsyncGenerator<InputLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let parts: Buffer[] = [];
  let bytes = 0;
  let no = 0;
  const take = (): InputLine => {
    no++;
    const kept = parts;
    const size = bytes;
    parts = [];
    bytes = 0;
    if (size > maxBytes) return { no, tooLong: size };
    try {
      const text = decoder.decode(kept.length === 1 ? kept[0] : Buffer.concat(kept, size));
      return { no, text: text.endsWith('\r') ? text.slice(0, -1) : text };
    } catch {
      return { no, notUtf8: true };
    }
  };
  for await (const chunk of input) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (;;) {
      const newline = buf.indexOf(0x0a, start);
      const end = newline < 0 ? buf.length : newline;
      if (end > start) {
        bytes += end - start;
        if (bytes <= maxBytes) parts.push(buf.subarray(start, end));
        else if (parts.length > 0) parts = [];
      }
      if (newline < 0) break;
      yield take();
      start = newline + 1;
    }
  }
  if (bytes > 0) yield take();
}
