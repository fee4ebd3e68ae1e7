import { describe, expect, it } from 'vitest';
import { ScopeEvidence, WRONG_MARGIN, wilsonInterval, wilsonUpper } from './evidence.js';

/** `n` labels of distinct entries at `similarity`, `wrong` of them wrong. */
function labels(e: ScopeEvidence, similarity: number, n: number, wrong = 0, prefix = 'e'): void {
  for (let i = 0; i < n; i++) e.add({ entry: `${prefix}${similarity}-${i}`, similarity, wrong: i < wrong });
}

describe('ScopeEvidence', () => {
  it('serves nothing without evidence, however close the candidate', () => {
    const e = new ScopeEvidence(0.7);
    expect(e.decide('a', 0.999, 0.05)).toEqual({ serve: false, why: 'no-evidence' });
    expect(e.cutoff(0.05)).toBeNull();
  });

  it('serves nothing on too little evidence for the bound: about 3/δ right labels are needed', () => {
    const e = new ScopeEvidence(0.7);
    labels(e, 0.95, 20);
    // 20 right of 20: the 95% upper bound is ~0.12, above δ = 0.05.
    expect(e.decide('a', 0.96, 0.05).serve).toBe(false);
    labels(e, 0.95, 40, 0, 'more');
    // 60 of 60: ~0.043.
    expect(e.decide('a', 0.96, 0.05)).toEqual({ serve: true, via: 'shared' });
    // Still not for δ = 1%.
    expect(e.decide('a', 0.96, 0.01).serve).toBe(false);
  });

  it('learns the lowest similarity at which the bound holds, and never goes below the floor', () => {
    const e = new ScopeEvidence(0.7);
    labels(e, 0.95, 300);
    labels(e, 0.9, 300, 3);
    labels(e, 0.85, 300, 60);
    labels(e, 0.75, 300, 200);
    const cutoff = e.cutoff(0.02)!;
    expect(cutoff).toBeGreaterThan(0.85);
    expect(cutoff).toBeLessThanOrEqual(0.9);
    expect(e.decide('x', 0.91, 0.02).serve).toBe(true);
    expect(e.decide('x', 0.86, 0.02)).toEqual({ serve: false, why: 'below-cutoff' });
    // The wrong share at or above the cutoff is under the bound.
    const { n, wrong } = e.served(0.02);
    expect(wilsonUpper(wrong, n)).toBeLessThanOrEqual(0.02);
    // A looser bound reaches lower; no bound reaches below the floor.
    expect(e.cutoff(0.2)!).toBeLessThan(cutoff);
    expect(e.cutoff(0.5)!).toBeGreaterThanOrEqual(0.7);
    expect(e.decide('x', 0.69, 0.5)).toEqual({ serve: false, why: 'below-cutoff' });
  });

  it('never extrapolates a cutoff across ground without labels: near-duplicates at the top and one label far below', async () => {
    const e = new ScopeEvidence(0.7);
    labels(e, 0.99, 300);
    labels(e, 0.81, 1);
    // The average above 0.81 is 0 wrong of 301, but nothing is known between 0.81 and 0.99.
    expect(e.cutoff(0.05)).toBeGreaterThan(0.98);
    expect(e.decide('x', 0.85, 0.05).serve).toBe(false);
    // Enough labels near 0.81 (max(10, 1/(2δ)) within 0.03) and it may go there.
    labels(e, 0.815, 9, 0, 'near');
    expect(e.cutoff(0.05)).toBeCloseTo(0.81, 2);
    // A tighter bound asks for more support: 50 near labels at δ = 1%.
    expect(e.cutoff(0.01)).toBeGreaterThan(0.98);
  });

  it('exploration that finds the served share wrong above δ closes the cutoff, whatever older labels say', () => {
    const e = new ScopeEvidence(0.7);
    labels(e, 0.82, 200);
    expect(e.cutoff(0.05)).toBeLessThanOrEqual(0.82);
    // Traffic drifts: of five candidates explored at 0.83, two were wrong.
    for (let i = 0; i < 5; i++)
      e.add({ entry: `drift-${i}`, similarity: 0.83, wrong: i < 2, source: 'exploration' });
    // Nothing at or below the drift is served; above it, only where labels say so (none here).
    expect(e.cutoff(0.05)).toBeNull();
    expect(e.decide('x', 0.83, 0.05).serve).toBe(false);
    labels(e, 0.9, 60, 0, 'above');
    expect(e.cutoff(0.05)).toBeGreaterThan(0.83);
  });

  it('clients’ feedback teaches its entry, never the shared cutoff (it is biased and repeatable)', () => {
    const e = new ScopeEvidence(0.7);
    labels(e, 0.95, 100);
    labels(e, 0.9, 20, 10);
    const before = e.cutoff(0.05);
    for (let i = 0; i < 300; i++)
      e.add({ entry: 'liked', similarity: 0.9, wrong: false, source: 'feedback' });
    expect(e.cutoff(0.05)).toBe(before);
    e.add({ entry: 'disliked', similarity: 0.97, wrong: true, source: 'feedback' });
    expect(e.decide('disliked', 0.97, 0.05)).toEqual({ serve: false, why: 'entry-wrong' });
  });

  it('an entry’s wrong label is never pushed out by its right ones', () => {
    const e = new ScopeEvidence(0.7);
    labels(e, 0.9, 400);
    e.add({ entry: 'x', similarity: 0.975, wrong: true });
    for (let i = 0; i < 100; i++) e.add({ entry: 'x', similarity: 0.93, wrong: false });
    expect(e.decide('x', 0.975, 0.05)).toEqual({ serve: false, why: 'entry-wrong' });
  });

  it('a wrong label lowers an entry’s confidence at once, up to its similarity and a margin', () => {
    const e = new ScopeEvidence(0.7);
    labels(e, 0.9, 400);
    expect(e.decide('bad', 0.93, 0.05).serve).toBe(true);
    e.add({ entry: 'bad', similarity: 0.93, wrong: true });
    expect(e.decide('bad', 0.93, 0.05)).toEqual({ serve: false, why: 'entry-wrong' });
    expect(e.decide('bad', 0.93 + WRONG_MARGIN / 2, 0.05).serve).toBe(false);
    // Other entries at the same similarity still serve; the entry itself does much closer.
    expect(e.decide('other', 0.93, 0.05).serve).toBe(true);
    expect(e.decide('bad', 0.93 + WRONG_MARGIN + 0.01, 0.05).serve).toBe(true);
  });

  it('an entry with right labels earns a lower cutoff than the shared one; a wrong label takes it away', () => {
    const e = new ScopeEvidence(0.7);
    labels(e, 0.95, 400);
    labels(e, 0.83, 200, 40);
    const shared = e.cutoff(0.06)!;
    expect(shared).toBeGreaterThan(0.84);
    expect(e.decide('proven', 0.84, 0.06).serve).toBe(false);
    // A few right labels are not enough against a 20% shared error rate there...
    for (let i = 0; i < 5; i++) e.add({ entry: 'proven', similarity: 0.8 + i * 0.001, wrong: false });
    expect(e.decide('proven', 0.84, 0.06).serve).toBe(false);
    // ...thirty are.
    for (let i = 5; i < 30; i++) e.add({ entry: 'proven', similarity: 0.8 + i * 0.001, wrong: false });
    expect(e.decide('proven', 0.84, 0.06)).toEqual({ serve: true, via: 'entry' });
    // Not below the similarities it was proven at.
    expect(e.decide('proven', 0.79, 0.06).serve).toBe(false);
    e.add({ entry: 'proven', similarity: 0.83, wrong: true });
    expect(e.decide('proven', 0.84, 0.06).serve).toBe(false);
  });

  it('ignores a label whose similarity is not a number in [-1, 1]', () => {
    const e = new ScopeEvidence(0.7);
    for (const similarity of [Number.NaN, 2, -3, Number.POSITIVE_INFINITY])
      e.add({ entry: 'x', similarity, wrong: false });
    expect(e.labels).toBe(0);
  });
});

describe('Wilson intervals', () => {
  it('bound the observed share and narrow with more observations', () => {
    expect(wilsonUpper(0, 0)).toBe(1);
    expect(wilsonUpper(0, 300)).toBeLessThan(0.01);
    expect(wilsonUpper(0, 100)).toBeGreaterThan(0.01);
    const [low, high] = wilsonInterval(10, 1000);
    expect(low).toBeLessThan(0.01);
    expect(high).toBeGreaterThan(0.01);
    expect(wilsonInterval(10, 100_000)[1] - wilsonInterval(10, 100_000)[0]).toBeLessThan(high - low);
  });
});
