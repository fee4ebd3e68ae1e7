/**
 * Progress of long CLI work (import, export, purge), always on standard error so standard output
 * stays the command's data. On a terminal (`io.interactive`) one line is redrawn in place: count,
 * the share done when the total is known, rate and elapsed time. Anywhere else (a log, CI) a plain
 * line comes at most every `intervalMs` (default 5 s, `$STRATA_PROGRESS_INTERVAL_MS`), so a quick
 * command prints none; then one summary line, `<label>: <count> done`.
 */
import type { ProgressListener } from '../core/progress.js';
import { type Io, shown } from './context.js';

/** Plain progress lines off a terminal are at least this far apart, unless the environment says otherwise. */
export const DEFAULT_INTERVAL_MS = 5_000;
/** The in-place line is redrawn at most this often: a fast loop must not flood the terminal. */
const REDRAW_MS = 100;
const BAR_WIDTH = 20;

export interface ProgressOptions {
  /** What is counted, e.g. "lines read"; shown before the count. */
  label: string;
  /** The whole amount when known (items, or bytes when positions are passed to update). */
  total?: number;
  /** Plain lines off a terminal at most this often; default $STRATA_PROGRESS_INTERVAL_MS, else 5 s. */
  intervalMs?: number;
  /** No count, only time: a line (or redraw) on a timer while one long call runs (purge). */
  heartbeat?: boolean;
  /** The summary line at the end; without it the in-place line is only cleared. Default true. */
  summary?: boolean;
  /** For tests: the clock, in ms. */
  now?: () => number;
  /** For tests: writes to the terminal without a newline (default: process.stderr). */
  write?: (text: string) => void;
  /** For tests: calls `tick` every `ms` until the returned stop is called (default: an unref'd setInterval). */
  every?: (ms: number, tick: () => void) => () => void;
}

export interface Progress {
  /** `count` items so far; `position` of `total` (default: `count`) for the share done. */
  update(count: number, position?: number): void;
  /** The work ended with `count` items: clears the in-place line and prints the summary. */
  done(count?: number): void;
  /** The work ended early (an error): clears the in-place line, no summary. A no-op after done. */
  abandon(): void;
}

export function createProgress(io: Io, options: ProgressOptions): Progress {
  const label = shown(options.label);
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? intervalFromEnv();
  const write = options.write ?? ((text: string) => void process.stderr.write(text));
  const start = now();
  let last = start;
  let count = 0;
  let position = 0;
  let drawn = false;
  let finished = false;

  const line = (): string => {
    const elapsed = (now() - start) / 1000;
    const parts: string[] = [];
    if (!options.heartbeat) {
      const total = options.total;
      const share = total !== undefined && total > 0 ? Math.min(1, position / total) : undefined;
      parts.push(
        share === undefined
          ? String(count)
          : io.interactive
            ? `${bar(share)} ${count} (${Math.floor(share * 100)}%)`
            : `${count} (${Math.floor(share * 100)}%)`,
      );
      if (elapsed > 0) parts.push(`${formatRate(count / elapsed)}/s`);
    }
    parts.push(formatElapsed(elapsed));
    return `${label}: ${parts.join(', ')}`;
  };

  const show = (force: boolean) => {
    const t = now();
    if (io.interactive) {
      if (!force && t - last < REDRAW_MS) return;
      last = t;
      // A line wider than the terminal would wrap, and `\r` would then redraw only its last row.
      write(`\r\x1b[2K${fitted(line())}`);
      drawn = true;
    } else {
      if (t - last < interval) return;
      last = t;
      io.err(line());
    }
  };

  // The heartbeat's timer: a second on a terminal; elsewhere the interval, never under a second.
  const stop = options.heartbeat
    ? (options.every ?? repeat)(io.interactive ? 1_000 : Math.max(interval, 1_000), () => show(true))
    : undefined;
  if (options.heartbeat && io.interactive) show(true);
  const end = () => {
    finished = true;
    stop?.();
    if (drawn) write('\r\x1b[2K');
  };

  return {
    update(n, at) {
      if (finished) return;
      count = n;
      position = at ?? n;
      show(false);
    },
    done(n) {
      if (finished) return;
      end();
      if (n !== undefined) count = n;
      if (options.summary !== false) io.err(`${label}: ${count} done`);
    },
    abandon() {
      if (!finished) end();
    },
  };
}

/** $STRATA_PROGRESS_INTERVAL_MS when it is a number of ms (0 or more), else the default. */
export function intervalFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.STRATA_PROGRESS_INTERVAL_MS;
  const ms = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw);
  return Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_INTERVAL_MS;
}

function repeat(ms: number, tick: () => void): () => void {
  const timer = setInterval(tick, ms);
  // Progress never keeps the process alive.
  timer.unref();
  return () => clearInterval(timer);
}

function fitted(text: string): string {
  const columns = process.stderr.columns;
  return columns && text.length >= columns ? text.slice(0, columns - 1) : text;
}

function bar(share: number): string {
  const full = Math.round(share * BAR_WIDTH);
  return `[${'#'.repeat(full)}${'-'.repeat(BAR_WIDTH - full)}]`;
}

function formatRate(perSecond: number): string {
  return perSecond >= 100 ? String(Math.round(perSecond)) : perSecond.toFixed(1);
}

/** 0:07, 12:34, 1:02:03. */
export function formatElapsed(seconds: number): string {
  const s = Math.floor(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/**
 * Tiers' long work at open (the semantic tier indexing its entries) shown like the commands' own:
 * one progress per tier and task, drawn while it runs and cleared when it ends.
 */
export function tierProgress(io: Io): ProgressListener {
  const running = new Map<string, Progress>();
  return ({ tier, task, done, total }) => {
    const id = `${tier}\u0000${task}`;
    let progress = running.get(id);
    if (!progress) {
      progress = createProgress(io, { label: `${tier}: ${task}`, total, summary: false });
      running.set(id, progress);
    }
    if (done < total) {
      progress.update(done);
      return;
    }
    running.delete(id);
    progress.done(done);
  };
}
