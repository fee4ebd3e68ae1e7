/**
 * Nearest neighbours by cosine similarity over unit vectors, with the structure that suits the
 * vectors: an inverted index for sparse ones (lexical), an exact scan or an HNSW graph for dense
 * ones (neural). The first vector added decides.
 */
import { isDense, type Vector } from './embedder.js';
import { GraphIndex } from './hnsw.js';
import { InvertedIndex } from './inverted-index.js';

export interface Neighbour {
  id: number;
  score: number;
}

export interface VectorIndexOptions {
  /** Dense vectors: below this many, search by exact scan; above, build an HNSW graph. */
  exactBelow?: number;
  m?: number;
  efConstruction?: number;
  efSearch?: number;
  seed?: number;
}

export class VectorIndex {
  private impl: InvertedIndex | GraphIndex | undefined;

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
      this.impl ??= new GraphIndex(this.options);
      if (this.impl instanceof GraphIndex) this.impl.add(id, vector);
    } else {
      this.impl ??= new InvertedIndex();
      if (this.impl instanceof InvertedIndex) this.impl.add(id, vector);
    }
  }

  remove(id: number): void {
    this.impl?.remove(id);
  }

  clear(): void {
    this.impl?.clear();
  }

  /** Nearest neighbours of a vector of the same kind as the indexed ones (none otherwise). */
  search(query: Vector, k: number): Neighbour[] {
    if (this.impl instanceof GraphIndex) return isDense(query) ? this.impl.search(query, k) : [];
    if (this.impl instanceof InvertedIndex) return isDense(query) ? [] : this.impl.search(query, k);
    return [];
  }
}
