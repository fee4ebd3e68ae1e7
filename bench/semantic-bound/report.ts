/** Figures and tables of the semantic-bound benchmark. */
import { BINS, type JudgeTally } from './bound.js';
import type { Counts, ReplayResult } from './replay.js';

/** 95% Wilson score interval of k successes in n trials; [0, 1] when n is 0. */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.959964;
  const p = k / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export const percent = (x: number, digits = 1) =>
  Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : '-';
const int = (n: number) => n.toLocaleString('en-US');

export const hitRate = (c: Counts) => (c.lookups === 0 ? 0 : c.hits / c.lookups);
export const errorRate = (c: Counts) => (c.hits === 0 ? 0 : c.wrong / c.hits);

/** Realised error among hits with its 95% interval, e.g. `1.2% [0.6%, 2.3%]`. */
export function errorWithInterval(c: Counts): string {
  if (c.hits === 0) return '- (no hits)';
  const [lo, hi] = wilson(c.wrong, c.hits);
  return `${percent(errorRate(c), 2)} [${percent(lo, 2)}, ${percent(hi, 2)}]`;
}

export interface StaticRun {
  threshold: number;
  result: ReplayResult;
}

export function printStatic(runs: StaticRun[]): void {
  console.log(
    '| threshold | hits | hit rate (of semantic lookups) | wrong | error among hits [95% CI] | model calls | s |',
  );
  console.log('|---:|---:|---:|---:|---|---:|---:|');
  for (const { threshold, result: r } of runs) {
    console.log(
      `| ${threshold.toFixed(2)} | ${int(r.hits)} | ${percent(hitRate(r))} | ${int(r.wrong)} | ${errorWithInterval(r)} | ${int(r.calls)} | ${r.seconds.toFixed(1)} |`,
    );
  }
}

/** Among the static runs whose realised error is at most `maxError`, the one with the highest hit rate. */
export function hindsightBest(runs: StaticRun[], maxError: number): StaticRun | undefined {
  let best: StaticRun | undefined;
  for (const run of runs) {
    if (run.result.hits > 0 && errorRate(run.result) > maxError + 1e-12) continue;
    if (!best || hitRate(run.result) > hitRate(best.result)) best = run;
  }
  return best;
}

export function describeBest(best: StaticRun | undefined, hitRateOfBound: number): string {
  if (!best) return 'none';
  const rate = hitRate(best.result);
  const ratio = rate === 0 ? '-' : `${(hitRateOfBound / rate).toFixed(2)}x`;
  return `${best.threshold.toFixed(2)}: ${percent(rate)} (bound/static ${ratio})`;
}

export function streamLine(r: ReplayResult): string {
  return `${int(r.requests)} requests, ${int(r.exact)} exact repeats (answered by the exact tier in front, not counted below), ${int(r.lookups)} semantic lookups`;
}

export function halfLine(h: Counts): string {
  return `${int(h.lookups)} lookups, hit rate ${percent(hitRate(h))}, error ${errorWithInterval(h)} (${h.wrong}/${h.hits})`;
}

export interface BoundRun {
  delta: number;
  result: ReplayResult;
  judge: JudgeTally;
}

export function printBound(runs: BoundRun[]): void {
  console.log(
    "| δ | hits | hit rate | wrong | realised error [95% CI] | within δ | model calls | explorations per 1,000 requests (per 1,000 lookups) | labels free / exploration / feedback / background | tier's estimate [95% CI], cutoff | s |",
  );
  console.log('|---:|---:|---:|---:|---|---|---:|---:|---|---|---:|');
  for (const { delta, result: r } of runs) {
    const b = r.bound;
    const [lo] = wilson(r.wrong, r.hits);
    const within =
      r.hits === 0 ? 'no hits' : errorRate(r) <= delta ? 'yes' : lo <= delta ? 'within CI' : '**no**';
    const explorations = b
      ? `${((1000 * b.explorations) / r.requests).toFixed(1)} (${((1000 * b.explorations) / r.lookups).toFixed(1)})`
      : '-';
    const labels = b
      ? `${int(b.labels.free)} / ${int(b.labels.exploration)} / ${int(b.labels.feedback)} / ${int(b.labels.background)}`
      : '-';
    const estimate =
      b && b.errorRate !== null
        ? `${percent(b.errorRate, 2)} [${percent(b.errorLow!, 2)}, ${percent(b.errorHigh!, 2)}], ${b.cutoff?.toFixed(3) ?? '-'}`
        : 'none (no cutoff now: serves nothing)';
    console.log(
      `| ${percent(delta, 0)} | ${int(r.hits)} | ${percent(hitRate(r))} | ${int(r.wrong)} | ${errorWithInterval(r)} | ${within} | ${int(r.calls)} | ${explorations} | ${labels} | ${estimate} | ${r.seconds.toFixed(1)} |`,
    );
  }
}

export function printHindsight(runs: BoundRun[], statics: StaticRun[]): void {
  console.log(
    "| δ | bound: hit rate, error | best static with error ≤ the bound run's: threshold, hit rate (ratio) | best static with error ≤ δ: threshold, hit rate (ratio) |",
  );
  console.log('|---:|---|---|---|');
  for (const { delta, result: r } of runs) {
    const rate = hitRate(r);
    console.log(
      `| ${percent(delta, 0)} | ${percent(rate)}, ${percent(errorRate(r), 2)} | ${describeBest(hindsightBest(statics, errorRate(r)), rate)} | ${describeBest(hindsightBest(statics, delta), rate)} |`,
    );
  }
}

export function printJudge(runs: BoundRun[]): void {
  console.log(
    '| δ | pairs judged | truly right: judged right / wrong / unsure | truly wrong: judged right / wrong / unsure | false "right" (of truly wrong) | right lost (of truly right) |',
  );
  console.log('|---:|---:|---|---|---:|---:|');
  for (const { delta, judge: j } of runs) {
    const right = j.right.right + j.right.wrong + j.right.unsure;
    const wrong = j.wrong.right + j.wrong.wrong + j.wrong.unsure;
    console.log(
      `| ${percent(delta, 0)} | ${int(right + wrong + j.unknown)} | ${j.right.right} / ${j.right.wrong} / ${j.right.unsure} | ${j.wrong.right} / ${j.wrong.wrong} / ${j.wrong.unsure} | ${percent(wrong === 0 ? Number.NaN : j.wrong.right / wrong, 2)} | ${percent(right === 0 ? Number.NaN : (right - j.right.right) / right, 1)} |`,
    );
  }
}

/** What the learner learned from, by similarity: the judged wrong share against the true one. */
export function printLabelBins(run: BoundRun): void {
  console.log('| question similarity | labels | judged wrong (unsure counts as wrong) | truly wrong |');
  console.log('|---|---:|---:|---:|');
  run.judge.bins.forEach((bin, i) => {
    const range = `${BINS[i]!.toFixed(2)}–${(BINS[i + 1] ?? 1).toFixed(2)}`;
    const share = (k: number) => (bin.n === 0 ? '-' : `${k} (${percent(k / bin.n)})`);
    console.log(`| ${range} | ${int(bin.n)} | ${share(bin.judgedWrong)} | ${share(bin.trulyWrong)} |`);
  });
}
