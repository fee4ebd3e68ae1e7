import { describe, expect, it } from 'vitest';
import { plan, RUN_COST_TOKENS } from './batcher.js';

const text = (length: number, id: number) => ({ id, tokens: Array.from({ length }, () => 1) });

describe('batcher plan: runs of similar length', () => {
  it('runs every text once, shortest first, and never pads short texts to a long one', () => {
    const batch = [12, 250, 14, 13, 15, 240, 12, 16].map(text);
    const runs = plan(batch);
    expect(
      runs
        .flat()
        .map((t) => t.id)
        .sort(),
    ).toEqual(batch.map((t) => t.id).sort());
    const lengths = runs.map((run) => run.map((t) => t.tokens.length));
    expect(lengths.flat()).toEqual([...lengths.flat()].sort((a, b) => a - b));
    // No short text shares a run with a long one (it would be padded to 240 tokens).
    for (const run of lengths) expect(Math.min(...run) < 20 && Math.max(...run) > 200).toBe(false);
    // Splitting further than the cost model says would cost more runs than padding saves.
    expect(runs.length).toBeLessThanOrEqual(4);
  });

  it('keeps texts of equal length in one run, and a single text alone', () => {
    expect(plan(Array.from({ length: 64 }, (_, i) => text(20, i)))).toHaveLength(1);
    expect(plan([text(5, 0)])).toEqual([[text(5, 0)]]);
    expect(plan([])).toEqual([]);
    // Two lengths a run's cost apart are not worth two runs.
    expect(plan([text(10, 0), text(10 + RUN_COST_TOKENS / 2, 1)])).toHaveLength(1);
  });
});
