import { describe, expect, it } from 'vitest';
import { Deadlines } from './deadlines.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Deadlines', () => {
  it('fires a deadline once its time has passed, and never one that was cancelled', async () => {
    const deadlines = new Deadlines(2);
    const fired: string[] = [];
    deadlines.add(5, () => fired.push('due'));
    const cancelled = deadlines.add(5, () => fired.push('cancelled'));
    expect(deadlines.cancel(cancelled)).toBe(true);
    expect(fired).toEqual([]); // not before its time
    await sleep(40);
    expect(fired).toEqual(['due']);
  });

  it('says whether a cancel came in time: false once the deadline fired', async () => {
    const deadlines = new Deadlines(2);
    const late = deadlines.add(1, () => {});
    await sleep(30);
    expect(deadlines.cancel(late)).toBe(false);
  });
});
