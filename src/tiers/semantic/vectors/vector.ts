/**
 * Vectors as the semantic tier compares them: unit length, so cosine similarity is a dot
 * product; dense (neural models) or sparse (the lexical embedder's hashed features).
 */

/** Non-zero components only, indices ascending. */
export interface SparseVector {
  readonly dim: number;
  readonly idx: Uint32Array;
  readonly val: Float32Array;
}

export type Vector = Float32Array | SparseVector;

export function isDense(v: Vector): v is Float32Array {
  return v instanceof Float32Array;
}

/** Scales a vector to unit length in place, so cosine similarity is a dot product. */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return v;
}

export function dot(a: Vector, b: Vector): number {
  let sum = 0;
  if (isDense(a) && isDense(b)) {
    for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  } else if (isDense(a) || isDense(b)) {
    const d = (isDense(a) ? a : b) as Float32Array;
    const s = (isDense(a) ? b : a) as SparseVector;
    for (let i = 0; i < s.idx.length; i++) sum += d[s.idx[i]!]! * s.val[i]!;
  } else {
    const x = a as SparseVector;
    const y = b as SparseVector;
    for (let i = 0, j = 0; i < x.idx.length && j < y.idx.length; ) {
      if (x.idx[i] === y.idx[j]) sum += x.val[i++]! * y.val[j++]!;
      else if (x.idx[i]! < y.idx[j]!) i++;
      else j++;
    }
  }
  return sum;
}
