/**
 * Nearest neighbours by cosine similarity over unit vectors, with the structure that suits the
 * vectors: an inverted index for sparse ones (lexical), an exact scan or an HNSW graph for dense
 * ones (neural). The first vector added decides. A dense index is saved and restored as bytes
 * (hnsw.ts); a sparse one is rebuilt from its vectors.
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

  /** The index a dense snapshot describes (HnswIndex.restore); undefined when it is not one. */
  static restore(bytes: Uint8Array, options: VectorIndexOptions = {}): VectorIndex | undefined {
    const graph = HnswIndex.restore(bytes, options);
    if (!graph) return undefined;
    const index = new VectorIndex(options);
    index.impl = graph;
    return index;
  }

  /**
   * A version-1 snapshot (links only, before the flat layout) over `vectors`: the graph it
   * describes, then the vectors it lacks linked anew. Undefined when it is not one. `changed`:
   * whether the result differs from it (nodes dropped or linked).
   */
  static fromLinks(
    snapshot: Int32Array,
    vectors: ReadonlyMap<number, Vector>,
    options: VectorIndexOptions = {},
  ): { index: VectorIndex; changed: number } | undefined {
    const dense = new Map<number, Float32Array>();
    for (const [id, v] of vectors) if (isDense(v)) dense.set(id, v);
    if (dense.size !== vectors.size) return undefined;
    const converted = HnswIndex.fromLinks(snapshot, dense, options);
    if (!converted) return undefined;
    for (const id of converted.missing) converted.index.add(id, dense.get(id)!);
    const index = new VectorIndex(options);
    index.impl = converted.index;
    return { index, changed: converted.dropped + converted.missing.length };
  }

  get size(): number {
    return this.impl?.size ?? 0;
  }

  /** 'inverted' or 'graph' once a vector has been added. */
  get kind(): string | undefined {
    return this.impl === undefined ? undefined : this.impl instanceof InvertedIndex ? 'inverted' : 'graph';
  }

  /** Bytes of a dense index's arrays (0 for a sparse one). */
  get bytes(): number {
    return this.impl instanceof HnswIndex ? this.impl.bytes : 0;
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

  /** Whether a dense index holds `id` (a sparse one answers false: it is never restored). */
  has(id: number): boolean {
    return this.impl instanceof HnswIndex && this.impl.has(id);
  }

  /** Whether a dense index's node of `id` holds this vector (HnswIndex.holds). */
  holds(id: number, vector: Vector): boolean {
    return this.impl instanceof HnswIndex && isDense(vector) && this.impl.holds(id, vector);
  }

  /** The ids a dense index holds. */
  liveIds(): Iterable<number> {
    return this.impl instanceof HnswIndex ? this.impl.liveIds() : [];
  }

  /**
   * Adds many vectors one by one. `added`, when given, hears how many so far (every
   * PROGRESS_EVERY): a rebuild of a large graph takes long enough to report.
   */
  load(vectors: Iterable<[number, Vector]>, added?: (count: number) => void): void {
    let count = 0;
    for (const [id, v] of vectors) {
      this.add(id, v);
      if (added && ++count % PROGRESS_EVERY === 0) added(count);
    }
  }

  /** The index to persist: a dense one (graph or not yet); a sparse one is rebuilt instead. */
  snapshot(): Uint8Array | undefined {
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
