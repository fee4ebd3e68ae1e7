import { describe, expect, it } from 'vitest';
import { cancelDeadline, Deadlines, type Expirable } from './deadlines.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A waiter that records its expiry under `name`. */
const waiter = (fired: unknown[], name: unknown): Expirable => ({
  armed: 0,
  expired: () => fired.push(name),
});

describe('Deadlines', () => {
  it('fires a deadline once its time has passed, and never one that was cancelled', async () => {
    const deadlines = new Deadlines(5, undefined, 2);
    const fired: string[] = [];
    deadlines.add(performance.now(), waiter(fired, 'due'));
    const cancelled = waiter(fired, 'cancelled');
    const token = deadlines.add(performance.now(), cancelled);
    expect(cancelDeadline(cancelled, token)).toBe(true);
    expect(cancelled.armed).toBe(0);
    expect(fired).toEqual([]); // not before its time
    await sleep(40);
    expect(fired).toEqual(['due']);
  });

  it('says whether a cancel came in time: false once the deadline fired, or for a second cancel', async () => {
    const deadlines = new Deadlines(1, undefined, 2);
    const fired: string[] = [];
    const late = waiter(fired, 'late');
    const lateToken = deadlines.add(performance.now(), late);
    await sleep(30);
    expect(fired).toEqual(['late']);
    expect(cancelDeadline(late, lateToken)).toBe(false);
    const twice = waiter(fired, 'twice');
    const token = deadlines.add(performance.now(), twice);
    expect(cancelDeadline(twice, token)).toBe(true);
    expect(cancelDeadline(twice, token)).toBe(false);
  });

  it('fires each expired deadline behind cancelled and pending ones, in order, and only once', async () => {
    const deadlines = new Deadlines(10, () => expired++, 2);
    const fired: number[] = [];
    let expired = 0;
    const start = performance.now();
    const waiters = Array.from({ length: 3000 }, (_, i) => waiter(fired, i));
    const tokens = waiters.map((w) => deadlines.add(start, w));
    // Every other one settles in time; the rest expire.
    for (let i = 0; i < waiters.length; i += 2) cancelDeadline(waiters[i]!, tokens[i]!);
    await sleep(60);
    expect(fired).toEqual(Array.from({ length: 1500 }, (_, i) => 2 * i + 1));
    expect(expired).toBe(1500);
    // Added after a sweep emptied the queue: still fired.
    const again = waiter(fired, -1);
    const token = deadlines.add(performance.now(), again);
    await sleep(60);
    expect(fired.at(-1)).toBe(-1);
    expect(cancelDeadline(again, token)).toBe(false);
  });

  it('never fires a waiter for a deadline it was re-armed past, in this queue or another', async () => {
    // A lookup whose read timed out on one tier is armed again for the next tier's read: the
    // first queue's stale entry must not fire it, and neither may a cancelled entry of its own.
    const slow = new Deadlines(5, undefined, 2);
    const other = new Deadlines(1_000, undefined, 2);
    const fired: string[] = [];
    const run = waiter(fired, 'run');
    const first = slow.add(performance.now(), run);
    expect(cancelDeadline(run, first)).toBe(true);
    const second = other.add(performance.now(), run);
    await sleep(40);
    expect(fired).toEqual([]);
    expect(run.armed).toBe(second);
    // Re-armed on the same queue after a cancel: only the newest deadline counts.
    expect(cancelDeadline(run, second)).toBe(true);
    slow.add(performance.now(), run);
    await sleep(40);
    expect(fired).toEqual(['run']);
  });
});
