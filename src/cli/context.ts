/** What every CLI command receives: parsed arguments, output streams, and the configured engine. */
import { existsSync } from 'node:fs';
import { loadConfigWithSource } from '../config/load.js';
import { parseConfig, type ResolvedConfig, tierName } from '../config/schema.js';
import type { Logger } from '../core/events.js';
import { validateNamespace } from '../core/key.js';
import { createStrata } from '../engine/create.js';
import type { Strata } from '../engine/strata.js';
import { NoSuchCacheFileError, StrataConfigError } from '../errors.js';
import { tierProgress } from './progress.js';

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
   * Opens the engine the config describes, with the namespace the command works in (`--namespace`,
   * else the config's). Unless `creates`, every
   * configured SQLite file must exist: a missing one fails the command ("<path>: no such cache
   * file", exit 1) before anything is opened, so a mistyped path is never made into an empty
   * cache. `readonly`: file-backed tiers open read-only and create nothing; `integrityCheck`:
   * health() runs the backends' full integrity checks.
   */
  open(options?: OpenOptions): Promise<Opened>;
}

export interface Opened {
  strata: Strata;
  /** The namespace the command works in: `--namespace`, else the config's. */
  namespace: string;
  source: string;
  config: ResolvedConfig;
}

export interface OpenOptions {
  readonly?: boolean;
  integrityCheck?: boolean;
  /** The command may create the cache it is pointed at (import, demo, serve); the others only read or erase. */
  creates?: boolean;
  /**
   * The command keeps running (serve), so a tier that cannot be opened is retried, as the
   * library says. A one-shot command exits first: its messages say only that the tier is down.
   */
  lasting?: boolean;
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
      if (!options.creates) {
        const missing = missingCacheFiles(config);
        if (missing.length > 0) throw new NoSuchCacheFileError(missing);
      }
      const namespace = stringFlag(flags, 'namespace') ?? config.namespace;
      const problem = validateNamespace(namespace);
      if (problem)
        throw new StrataConfigError([
          { path: '--namespace', message: `${problem} (got ${JSON.stringify(namespace)})` },
        ]);
      const logger: Logger = options.lasting ? { warn: (m) => io.err(m) } : oneShotLogger(io);
      const strata = await createStrata(config, {
        logger,
        onProgress: tierProgress(io),
        readonly: options.readonly,
        integrityCheck: options.integrityCheck,
      });
      return { strata, namespace, source, config };
    },
  };
}

/** Configured SQLite files (not `:memory:` or a `file:` URI) that do not exist, with their tiers. */
function missingCacheFiles(config: ResolvedConfig): Array<{ tier: string; path: string }> {
  const missing: Array<{ tier: string; path: string }> = [];
  for (const tier of config.tiers) {
    if (tier.type !== 'sqlite' || tier.path === ':memory:' || tier.path.startsWith('file:')) continue;
    if (!existsSync(tier.path)) missing.push({ tier: tierName(tier), path: tier.path });
  }
  return missing;
}

/**
 * The library's warnings as a command that exits at once prints them: a tier that cannot be
 * opened "is down: <reason>" (the library adds that it will be retried, which only a process
 * that stays up does), and the calls that then fail for that same reason are not repeated.
 */
function oneShotLogger(io: Io): Logger {
  const down = new Map<string, string>();
  return {
    warn(message) {
      const unopened =
        /^\[strata\] tier (.+?) cannot be opened \((.*)\); it is down and will be retried$/s.exec(message);
      if (unopened) {
        down.set(unopened[1]!, unopened[2]!);
        io.err(`[strata] tier ${unopened[1]} is down: ${unopened[2]}`);
        return;
      }
      const failed =
        /^\[strata\] tier (.+?): [\w ]+ failed \(tier (.+?) is unavailable: (.*)\); (?:skipped for this tier|treated as a miss)$/s.exec(
          message,
        );
      if (failed && failed[1] === failed[2] && down.get(failed[1]!) === failed[3]) return;
      io.err(message);
    },
  };
}

/** Exit status of a command whose standard output was closed under it (`strata ... | head`): SIGPIPE's. */
export const CLOSED_PIPE_STATUS = 141;

/**
 * For the `strata` process (not for main() called in-process): standard output closed by its
 * reader (`| head`, EPIPE) ends the command at once, with no message, as SIGPIPE ends other
 * commands; any other failure to write it is one line and exit 1. Every command writes through
 * process.stdout, so this one handler covers them all. A standard error that cannot be written
 * is ignored: there is nowhere left to say it, and the exit status still tells.
 */
export function guardProcessOutput(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(CLOSED_PIPE_STATUS);
    process.stderr.write(`strata: cannot write standard output: ${systemReason(error)}\n`);
    process.exit(1);
  });
  process.stderr.on('error', () => {});
}

/**
 * A file system error as a person reads it: Node's "ENOENT: no such file or directory, open
 * '/x'" becomes "no such file or directory" (the caller names the path).
 */
export function systemReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (!(e instanceof Error)) return String(error);
  const m = /^[A-Z0-9]+: (.*?)(?:, \w+(?: '.*')?)?$/s.exec(e.message);
  return e.code && m ? m[1]! : e.message;
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
