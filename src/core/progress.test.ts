import { describe, expect, it } from 'vitest';
import { INTERVAL_MS, progressLines, QUIET_MS } from './progress.js';

describe('progressLines: long work at open says how far it is through the logger', () => {
  const setup = () => {
    const lines: string[] = [];
    let t = 0;
    const listener = progressLines({ warn: (m) => lines.push(m) }, () => t);
    return { lines, listener, at: (ms: number) => (t = ms) };
  };

  it('work that ends within the quiet time says nothing', () => {
    const { lines, listener, at } = setup();
    listener({ tier: 'semantic', task: 'entries indexed', done: 0, total: 10 });
    at(QUIET_MS - 1);
    listener({ tier: 'semantic', task: 'entries indexed', done: 5, total: 10 });
    listener({ tier: 'semantic', task: 'entries indexed', done: 10, total: 10 });
    expect(lines).toEqual([]);
  });

  it('longer work: a line once past the quiet time, then at most every interval, then the end', () => {
    const { lines, listener, at } = setup();
    const event = (done: number) => listener({ tier: 'sem', task: 'entries indexed', done, total: 4_000 });
    event(0);
    at(QUIET_MS);
    event(1_000);
    at(QUIET_MS + INTERVAL_MS - 1);
    event(2_000); // too soon after the last line
    at(QUIET_MS + INTERVAL_MS);
    event(3_000);
    at(9_600);
    event(4_000);
    expect(lines).toEqual([
      '[strata] tier sem: 1000 of 4000 entries indexed (25%), 2 s so far',
      '[strata] tier sem: 3000 of 4000 entries indexed (75%), 7 s so far',
      '[strata] tier sem: 4000 entries indexed in 10 s',
    ]);
  });

  it('keeps tiers apart, and starts afresh when the same work runs again', () => {
    const { lines, listener, at } = setup();
    listener({ tier: 'a', task: 't', done: 1, total: 3 });
    at(QUIET_MS);
    listener({ tier: 'b', task: 't', done: 1, total: 3 }); // b has only just begun
    listener({ tier: 'a', task: 't', done: 2, total: 3 });
    listener({ tier: 'a', task: 't', done: 3, total: 3 });
    listener({ tier: 'a', task: 't', done: 1, total: 3 }); // a again: its clock restarts
    listener({ tier: 'a', task: 't', done: 3, total: 3 });
    expect(lines).toEqual(['[strata] tier a: 2 of 3 t (66%), 2 s so far', '[strata] tier a: 3 t in 2 s']);
  });
});
