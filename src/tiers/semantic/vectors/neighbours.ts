/** What the vector indexes share (vector-index.ts picks one; hnsw.ts and inverted-index.ts implement them). */

/** One search result: an entry id and its cosine similarity to the query. */
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
