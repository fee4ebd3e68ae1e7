/**
 * The soak's measurements: every `sampleSeconds`, the process's heap and RSS, its open file
 * descriptors and how many of them are sockets (/proc/self/fd), the event loop's p99 delay, and
 * the workload's and the engine's counters since the previous sample.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Strata } from '../../src/engine/strata.js';
import type { Workload } from './workload.js';

export interface Sample {
  /** Seconds since the soak started. */
  t: number;
  /** Index of the fault period (minute) it falls in; -1 after the last. */
  period: number;
  fault: string;
  heapMB: number;
  rssMB: number;
  fds: number;
  sockets: number;
  eldP99Ms: number;
  calls: number;
  lookups: number;
  hits: number;
  /** Tier errors and timeouts, over every tier. */
  errors: number;
  escaped: number;
  wrong: number;
  /** The slowest workload call since the last sample, ms. */
  slowestMs: number;
  /** Breakers that went open since the last sample, per tier. */
  opens: Record<string, number>;
  /** Each tier's breaker state now. */
  breakers: Record<string, string>;
}

export function openFds(): { fds: number; sockets: number } {
  let fds = 0;
  let sockets = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed in between (the directory listing's own fd, for one)
    }
    fds++;
    if (target.startsWith('socket:')) sockets++;
  }
  return { fds, sockets };
}

/**
 * A full garbage collection before each sample, so heap and RSS are what is live, not where the
 * collector's sawtooth happened to be (one forced GC every 10 s costs a few ms of pause).
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export class Sampler {
  readonly samples: Sample[] = [];
  private readonly eld = monitorEventLoopDelay({ resolution: 10 });
  private readonly breakers: Record<string, string> = {};
  private opens: Record<string, number> = {};
  private lastErrors = 0;
  private readonly started = Date.now();

  constructor(
    private readonly strata: Strata,
    private readonly workload: Workload,
    private readonly where: () => { period: number; fault: string },
  ) {
    for (const name of strata.tierNames) this.breakers[name] = 'closed';
    strata.events.on('breaker', ({ tier, to }) => {
      this.breakers[tier] = to;
      if (to === 'open') this.opens[tier] = (this.opens[tier] ?? 0) + 1;
    });
    this.eld.enable();
  }

  async sample(): Promise<Sample> {
    const stats = await this.strata.stats({ store: false });
    const errors = stats.tiers.reduce((n, t) => n + t.errors + t.timeouts, 0);
    const work = this.workload.take();
    gc();
    const memory = process.memoryUsage();
    const s: Sample = {
      t: Math.round((Date.now() - this.started) / 1000),
      ...this.where(),
      heapMB: memory.heapUsed / 2 ** 20,
      rssMB: memory.rss / 2 ** 20,
      ...openFds(),
      eldP99Ms: this.eld.percentile(99) / 1e6,
      calls: work.calls,
      lookups: work.lookups,
      hits: work.hits,
      errors: errors - this.lastErrors,
      escaped: work.escaped,
      wrong: work.wrong,
      slowestMs: work.slowestMs,
      opens: this.opens,
      breakers: { ...this.breakers },
    };
    this.lastErrors = errors;
    this.opens = {};
    this.eld.reset();
    this.samples.push(s);
    return s;
  }

  close(): void {
    this.eld.disable();
  }
}

// ---------------------------------------------------------------------------------------------
// Analysis

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const BARS = '▁▂▃▄▅▆▇█';

export function sparkline(values: number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return values
    .map(
      (v) =>
        BARS[hi === lo ? 0 : Math.min(BARS.length - 1, Math.floor(((v - lo) / (hi - lo)) * BARS.length))],
    )
    .join('');
}
