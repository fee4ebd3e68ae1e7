/**
 * Nearest neighbours by cosine similarity over unit vectors, with the structure that suits the
 * vectors: an inverted index for sparse ones (lexical), an exact scan or an HNSW graph for dense
 * ones (neural). The first vector added decides.
 */

import { HnswIndex } from './hnsw.js';
import { InvertedIndex } from './inverted-index.js';
import type { Neighbour, VectorIndexOptions } from './neighbours.js';
import { isDense, type Vector } from './vector.js';

/** load() reports a rebuild's progress after every this many vectors. */
const PROGRESS_EVERY = 1_000;

export class VectorIndex {
  private impl: InvertedIndex | HnswIndex | undefined;

  constructor(private readonly options: VectorIndexOptions = {}) {}

  get size(): number {
    return this.impl?.size ?? 0;
  }

  /** 'inverted' or 'graph' once a vector has been added. */
  get kind(): string | undefined {
    return this.impl === undefined ? undefined : this.impl instanceof InvertedIndex ? 'inverted' : 'graph';
  }

  add(id: number, vector: Vector): void {
    if (isDense(vector)) {
      this.impl ??= new HnswIndex(this.options);
      if (this.impl instanceof HnswIndex) this.impl.add(id, vector);
    } else {
      this.impl ??= new InvertedIndex();
      if (this.impl instanceof InvertedIndex) this.impl.add(id, vector);
    }
  }

  /**
   * Fills an empty index with many vectors at once. With the snapshot of an earlier graph over
   * (mostly) the same vectors, the graph is restored instead of rebuilt (hnsw.ts). Returns whether
   * the index now has a graph the snapshot does not describe (built, or restored and changed):
   * one worth saving. `added`, when given, hears how many were added one by one so far (every
   * PROGRESS_EVERY): a rebuild of a large graph takes long enough to report.
   */
  load(
    vectors: ReadonlyMap<number, Vector>,
    snapshot?: Int32Array,
    added?: (count: number) => void,
  ): boolean {
    const first = vectors.values().next();
    if (snapshot && !first.done && isDense(first.value) && this.impl === undefined) {
      const graph = new HnswIndex(this.options);
      const dense = new Map<number, Float32Array>();
      for (const [id, v] of vectors) if (isDense(v)) dense.set(id, v);
      const changed = graph.restore(dense, snapshot);
      if (changed !== undefined) {
        this.impl = graph;
        return changed > 0;
      }
    }
    let count = 0;
    for (const [id, v] of vectors) {
      this.add(id, v);
      if (added && ++count % PROGRESS_EVERY === 0) added(count);
    }
    return this.impl instanceof HnswIndex && this.impl.hasGraph;
  }

  /** The graph to persist, for a dense index large enough to have one. */
  snapshot(): Int32Array | undefined {
    return this.impl instanceof HnswIndex ? this.impl.snapshot() : undefined;
  }

  remove(id: number): void {
    this.impl?.remove(id);
  }

  clear(): void {
    this.impl?.clear();
  }

  /** Nearest neighbours of a vector of the same kind as the indexed ones (none otherwise). */
  search(query: Vector, k: number): Neighbour[] {
    if (this.impl instanceof HnswIndex) return isDense(query) ? this.impl.search(query, k) : [];
    if (this.impl instanceof InvertedIndex) return isDense(query) ? [] : this.impl.search(query, k);
    return [];
  }
}
