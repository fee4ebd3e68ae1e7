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
  io: Io,
): CommandContext {
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

/** Reports progress of a long operation: redrawn in place on a terminal, every `every` items otherwise. */
export function progress(
  io: Io,
  label: string,
  every = 1_000,
): { tick(n: number): void; done(n: number): void } {
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
