/** What every CLI command receives: parsed arguments, output streams, and the configured cache. */
import { loadConfigWithSource } from '../config/load.js';
import { parseConfig, type ResolvedConfig } from '../config/schema.js';
import { createCache } from '../create.js';
import type { StrataCache } from '../langchain/cache.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Whether progress may redraw one line in place (stderr is a terminal). */
  interactive: boolean;
}

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  interactive: Boolean(process.stderr.isTTY),
};

export interface CommandContext {
  positionals: string[];
  flags: Record<string, string | boolean | undefined>;
  io: Io;
  /**
   * Opens the cache the config describes, in the requested namespace. `readonly`: file-backed
   * tiers open read-only and create nothing (a missing file is a down tier); `integrityCheck`:
   * health() runs the backends' full integrity checks.
   */
  open(options?: OpenOptions): Promise<{ cache: StrataCache; source: string; config: ResolvedConfig }>;
}

export interface OpenOptions {
  readonly?: boolean;
  integrityCheck?: boolean;
}

export type Command = (ctx: CommandContext) => Promise<number>;

export function contextFor(
  positionals: string[],
  flags: Record<string, string | boolean | undefined>,
  rawIo: Io,
): CommandContext {
  // Commands escape each piece of data they print (with `shown`); this catches any they missed.
  // Escaped text holds no character it would escape again, so nothing is escaped twice.
  const io: Io = {
    out: (line) => rawIo.out(shown(line, { multiline: true })),
    err: (line) => rawIo.err(shown(line, { multiline: true })),
    interactive: rawIo.interactive,
  };
  return {
    positionals,
    flags,
    io,
    async open(options: OpenOptions = {}) {
      const { config: input, source } = loadConfigWithSource(stringFlag(flags, 'config'));
      const config = parseConfig(input);
      const namespace = stringFlag(flags, 'namespace');
      const cache = await createCache(config, { logger: { warn: (m) => io.err(m) }, ...options });
      return { cache: namespace ? cache.withNamespace(namespace) : cache, source, config };
    },
  };
}

export function stringFlag(flags: CommandContext['flags'], name: string): string | undefined {
  const value = flags[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Characters a terminal may act on instead of showing: C0 and C1 controls (ESC, CR, BEL, ...)
 * and DEL, format characters (the bidi overrides and isolates U+202A-U+202E and U+2066-U+2069,
 * zero-width characters, the BOM, ...), line and paragraph separators, and lone surrogates.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/**
 * Text that came from stored data or input (a namespace, a tag, a prompt, a model, a file name,
 * an error message that quotes any of them), as the CLI prints it: every character in UNSAFE is
 * written as \uXXXX (\u{XXXXX} beyond U+FFFF), so nothing in a cache or an import file can
 * move the cursor, recolour or clear the terminal, reorder what is shown, or fake a line.
 * `multiline` keeps \n, for output meant to span lines.
 */
export function shown(text: string, options: { multiline?: boolean } = {}): string {
  return text.replace(UNSAFE, (c) => {
    if (c === '\n' && options.multiline) return c;
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * A JSON text (one export line) with the characters in UNSAFE that JSON.stringify leaves as
 * they are (DEL, C1 controls, format characters, separators) written as JSON escapes: the same
 * JSON value, but safe to show on a terminal.
 */
export function jsonShown(json: string): string {
  return json.replace(UNSAFE, (c) =>
    Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join(
      '',
    ),
  );
}

/** Reports progress of a long operation: redrawn in place on a terminal, every `every` items otherwise. */
export function progress(
  io: Io,
  label: string,
  every = 1_000,
): { tick(n: number): void; done(n: number): void } {
  label = shown(label);
  return {
    tick(n) {
      if (n % every !== 0) return;
      if (io.interactive) process.stderr.write(`\r${label}: ${n}`);
      else io.err(`${label}: ${n}`);
    },
    done(n) {
      if (io.interactive) process.stderr.write('\r');
      io.err(`${label}: ${n} done`);
    },
  };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Left-aligned first column, right-aligned others. */
export function table(rows: Array<Array<string | number>>): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]!) : String(cell).padStart(widths[c]!)))
      .join('  '),
  );
}
