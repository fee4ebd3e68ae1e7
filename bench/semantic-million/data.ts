/**
 * The vectors of semantic-million's store: the 99,901 real MiniLM vectors of semantic-start's
 * main partition, and synthetic ones derived from them (a real vector plus gaussian noise,
 * renormalised), deterministic so every stage derives the same ones.
 */
import Database from 'better-sqlite3';

/** Per-vector noise: its norm is about NOISE (cosine ~0.89 with the real vector it comes from). */
export const NOISE = 0.5;

export interface RealVectors {
  ids: number[];
  vectors: Float32Array[];
  namespace: string;
  llm: string;
  context: string;
  embedder: string;
  maxId: number;
}

/** The real vectors of the largest partition of a semantic-start store, by id. */
export function realVectors(path: string): RealVectors {
  const db = new Database(path, { readonly: true });
  const main = db
    .prepare(
      `SELECT namespace, llm_string AS llm, context, embedder, count(*) AS n FROM semantic_entries
        WHERE bad = 0 AND query IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY n DESC LIMIT 1`,
    )
    .get() as { namespace: string; llm: string; context: string; embedder: string };
  const ids: number[] = [];
  const vectors: Float32Array[] = [];
  for (const row of db
    .prepare(
      `SELECT id, vector FROM semantic_entries WHERE namespace = ? AND llm_string = ? AND context = ?
        AND embedder = ? AND bad = 0 AND query IS NOT NULL ORDER BY id`,
    )
    .iterate(main.namespace, main.llm, main.context, main.embedder) as Iterable<{
    id: number;
    vector: Buffer;
  }>) {
    ids.push(row.id);
    vectors.push(new Float32Array(new Uint8Array(row.vector).buffer));
  }
  const maxId = db.prepare('SELECT max(id) FROM semantic_entries').pluck().get() as number;
  db.close();
  return { ids, vectors, ...main, maxId };
}

/** mulberry32 + Box-Muller: gaussian numbers from a seed. */
function gaussians(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** `base` plus gaussian noise of norm ~`noise`, unit length. */
export function noised(base: Float32Array, seed: number, noise = NOISE): Float32Array {
  const g = gaussians(seed);
  const sigma = noise / Math.sqrt(base.length);
  const v = new Float32Array(base.length);
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    v[i] = base[i]! + sigma * g();
    sum += v[i]! * v[i]!;
  }
  const norm = Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

/** Synthetic vector j (0-based): real vector j mod R, noised with seed j. */
export function synthetic(real: RealVectors, j: number): Float32Array {
  return noised(real.vectors[j % real.vectors.length]!, 0x9e3779b1 ^ j);
}

/** Query q (0-based): a real vector picked by q, noised with a seed no stored vector used. */
export function query(real: RealVectors, q: number): Float32Array {
  const pick = (Math.imul(q + 1, 2654435761) >>> 0) % real.vectors.length;
  return noised(real.vectors[pick]!, 0x51ed2701 + q * 7919 + 1_000_000_007);
}
