import { describe, expect, it } from 'vitest';
import { InvertedIndex } from './inverted-index.js';
import type { SparseVector } from './vector.js';

/** A unit sparse vector over the given dimensions, weights as given. */
function sparse(entries: Array<[number, number]>): SparseVector {
  const sorted = [...entries].sort((a, b) => a[0] - b[0]);
  const norm = Math.hypot(...sorted.map(([, w]) => w));
  return {
    dim: 1 << 20,
    idx: Uint32Array.from(sorted.map(([d]) => d)),
    val: Float32Array.from(sorted.map(([, w]) => w / norm)),
  };
}

function dot(a: SparseVector, b: SparseVector): number {
  let s = 0;
  for (let i = 0; i < a.idx.length; i++) {
    const j = b.idx.indexOf(a.idx[i]!);
    if (j >= 0) s += a.val[i]! * b.val[j]!;
  }
  return s;
}

describe('InvertedIndex with common dimensions', () => {
  // 5,000 vectors: dimensions 1 and 2 are in every one (common), each also has two of its own.
  const vectors = Array.from({ length: 5_000 }, (_, i) =>
    sparse([
      [1, 1],
      [2, 0.5],
      [100 + i, 1],
      [20_000 + (i % 700), 0.7],
    ]),
  );
  const index = new InvertedIndex();
  for (const [i, v] of vectors.entries()) index.add(i, v);

  it('returns exact cosine scores, the common dimensions included', () => {
    const query = sparse([
      [1, 1],
      [2, 0.5],
      [100 + 42, 1],
      [20_000 + 42, 0.7],
    ]);
    const top = index.search(query, 5);
    expect(top[0]!.id).toBe(42);
    for (const n of top) expect(n.score).toBeCloseTo(dot(query, vectors[n.id]!), 5);
    // Candidates found through the shared distinctive dimension (20,042) rank next, by exact score.
    expect(top.slice(1).every((n) => n.id % 700 === 42)).toBe(true);
  });

  it('scores a query of common dimensions only over the whole index', () => {
    const top = index.search(
      sparse([
        [1, 1],
        [2, 0.5],
      ]),
      3,
    );
    expect(top).toHaveLength(3);
    for (const n of top)
      expect(n.score).toBeCloseTo(
        dot(
          sparse([
            [1, 1],
            [2, 0.5],
          ]),
          vectors[n.id]!,
        ),
        5,
      );
  });

  it('with more candidates than it rescores, returns the best of them by exact score', () => {
    // 3,000 vectors share one of ten mid-frequency dimensions (300 each: distinctive, not common).
    const many = Array.from({ length: 3_000 }, (_, i) =>
      sparse([
        [1, 1],
        [2, 0.2 + (i % 37) / 10],
        [30_000 + (i % 10), 0.5 + (i % 13) / 10],
        [40_000 + i, 0.3],
      ]),
    );
    const big = new InvertedIndex();
    for (const [i, v] of many.entries()) big.add(i, v);
    const query = sparse([
      [1, 1],
      [2, 1.5],
      [30_003, 1],
    ]);
    const top = big.search(query, 5);
    const brute = many
      .map((v, id) => ({ id, score: dot(query, v) }))
      .filter((n) => n.id % 10 === 3)
      .sort((a, b) => b.score - a.score)
      .slice(0, 5);
    expect(top.map((n) => n.score)).toEqual(brute.map((n) => expect.closeTo(n.score, 5)));
  });
});
