import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './stats.js';

describe('LatencyHistogram', () => {
  it('gives quantiles within its ~9% bucket resolution, never below the true value', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1_000; i++) h.record(i / 100); // 0.01 .. 10 ms
    const p50 = h.quantile(0.5);
    const p99 = h.quantile(0.99);
    expect(p50).toBeGreaterThanOrEqual(5);
    expect(p50).toBeLessThan(5 * 1.1);
    expect(p99).toBeGreaterThanOrEqual(9.9);
    expect(p99).toBeLessThan(9.9 * 1.1);
    expect(h.count).toBe(1_000);
    expect(h.mean()).toBeCloseTo(5.005, 6);
  });

  it('merges another histogram exactly (fleet counters) and ignores malformed buckets', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const both = new LatencyHistogram();
    for (let i = 0; i < 100; i++) {
      a.record(0.1 * (i + 1));
      b.record(3 * (i + 1));
      both.record(0.1 * (i + 1));
      both.record(3 * (i + 1));
    }
    a.merge(JSON.parse(JSON.stringify(b.toJSON())));
    expect(a.summary()).toEqual(both.summary());
    a.merge({
      buckets: [
        [-1, 5],
        [1e9, 5],
        [3, -2],
        [2.5, 1],
      ],
      sumMs: Number.NaN,
    });
    expect(a.count).toBe(both.count);
  });

  it('counts samples under a bound only when their whole bucket lies below it', () => {
    const h = new LatencyHistogram();
    h.record(0.5);
    h.record(2);
    expect(h.cumulative([1, 10]).counts).toEqual([1, 2]);
    expect(new LatencyHistogram().quantile(0.5)).toBe(0);
  });
});
