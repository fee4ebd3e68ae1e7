import { describe, expect, it } from 'vitest';
import { Deadlines } from './deadlines.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Deadlines', () => {
  it('fires a deadline once its time has passed, and never one that was cancelled', async () => {
    const deadlines = new Deadlines(5, undefined, 2);
    const fired: string[] = [];
    deadlines.add(performance.now(), () => fired.push('due'));
    const cancelled = deadlines.add(performance.now(), () => fired.push('cancelled'));
    expect(deadlines.cancel(cancelled)).toBe(true);
    expect(fired).toEqual([]); // not before its time
    await sleep(40);
    expect(fired).toEqual(['due']);
  });

  it('says whether a cancel came in time: false once the deadline fired', async () => {
    const deadlines = new Deadlines(1, undefined, 2);
    const late = deadlines.add(performance.now(), () => {});
    await sleep(30);
    expect(deadlines.cancel(late)).toBe(false);
  });

  it('fires each expired deadline behind cancelled and pending ones, in order, and only once', async () => {
    const deadlines = new Deadlines(10, () => expired++, 2);
    const fired: number[] = [];
    let expired = 0;
    const start = performance.now();
    const entries = Array.from({ length: 3000 }, (_, i) => deadlines.add(start, () => fired.push(i)));
    // Every other one settles in time; the rest expire.
    for (let i = 0; i < entries.length; i += 2) deadlines.cancel(entries[i]!);
    await sleep(60);
    expect(fired).toEqual(Array.from({ length: 1500 }, (_, i) => 2 * i + 1));
    expect(expired).toBe(1500);
    // Added after a sweep emptied the queue: still fired.
    const again = deadlines.add(performance.now(), () => fired.push(-1));
    await sleep(60);
    expect(fired.at(-1)).toBe(-1);
    expect(deadlines.cancel(again)).toBe(false);
  });
});
