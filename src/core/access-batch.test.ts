import { describe, expect, it } from 'vitest';
import { AccessBatch } from './access-batch.js';

describe('AccessBatch', () => {
  it('counts hits per key and the totals, hands them over once, and takes back a failed flush', () => {
    const batch = new AccessBatch();
    batch.record('a', 1);
    batch.record('a', 1);
    batch.record('b', 2);
    batch.record(undefined, 4);
    const taken = batch.take()!;
    expect(taken.counts).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(taken.totals).toEqual({ hits: 3, misses: 1, latencyMs: 8 });
    expect(batch.take()).toBeUndefined();
    batch.record('a');
    batch.giveBack(taken);
    expect(batch.take()).toEqual({
      counts: [
        ['a', 3],
        ['b', 1],
      ],
      totals: { hits: 4, misses: 1, latencyMs: 8 },
    });
  });

  it('drops the counts of deleted and cleared keys', () => {
    const batch = new AccessBatch();
    batch.record('a');
    batch.record('b');
    batch.forget('a');
    expect(batch.take()?.counts).toEqual([['b', 1]]);
    expect(batch.take()).toBeUndefined();
    batch.record('c');
    batch.forgetAll();
    // The lookup still counts in the day's statistics; only its key's count is gone.
    expect(batch.take()).toEqual({ counts: [], totals: { hits: 1, misses: 0, latencyMs: 0 } });
  });
});
