/**
 * What the semantic tier needs from an embedder: unit-length vectors, dense (neural models) or
 * sparse (the lexical embedder's hashed features, most of whose million dimensions are zero).
 * Built-in embedders implement it; any LangChain `EmbeddingsInterface` is adapted to it.
 */
export interface Embedder {
  /** Identifies the model; vectors of different ids are never compared (it is stored with each vector). */
  readonly id: string;
  embed(texts: string[]): Promise<Vector[]>;
  /**
   * Whether the embedder sees all of this text (a model with a token window truncates the rest).
   * Text it cannot see whole is never matched by similarity. Absent: no window.
   */
  fits?(text: string): boolean;
  /** The threshold this model is measured to need, when it is not the family default. */
  readonly defaultThreshold?: number;
}

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

/** The shape of LangChain's EmbeddingsInterface that matters here. */
export interface LangChainEmbeddings {
  embedDocuments(documents: string[]): Promise<number[][]>;
  embedQuery(document: string): Promise<number[]>;
}

export function fromLangChain(
  embeddings: LangChainEmbeddings,
  id = embeddings.constructor?.name ?? 'langchain',
): Embedder {
  return {
    id,
    async embed(texts) {
      const vectors =
        texts.length === 1
          ? [await embeddings.embedQuery(texts[0]!)]
          : await embeddings.embedDocuments(texts);
      return vectors.map((v) => normalize(Float32Array.from(v)));
    },
  };
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

/** Bytes for storage: dense as raw float32; sparse behind a 'SPV1' header with its size and entries. */
export function vectorToBytes(v: Vector): Buffer {
  if (isDense(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const out = Buffer.alloc(12 + v.idx.length * 8);
  out.write('SPV1', 0, 'latin1');
  out.writeUInt32LE(v.dim, 4);
  out.writeUInt32LE(v.idx.length, 8);
  Buffer.from(v.idx.buffer, v.idx.byteOffset, v.idx.byteLength).copy(out, 12);
  Buffer.from(v.val.buffer, v.val.byteOffset, v.val.byteLength).copy(out, 12 + v.idx.length * 4);
  return out;
}

export function vectorFromBytes(bytes: Buffer): Vector {
  const copy = (offset: number, length: number) =>
    bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + length);
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'SPV1') {
    const n = bytes.readUInt32LE(8);
    return {
      dim: bytes.readUInt32LE(4),
      idx: new Uint32Array(copy(12, n * 4)),
      val: new Float32Array(copy(12 + n * 4, n * 4)),
    };
  }
  return new Float32Array(copy(0, bytes.length));
}

/**
 * An LRU of embeddings by text, so a prompt asked again is embedded once. Wraps any embedder.
 */
export function withEmbeddingCache(
  inner: Embedder,
  maxEntries = 10_000,
): Embedder & { hits: number; misses: number } {
  const cache = new Map<string, Vector>();
  const wrapped = {
    id: inner.id,
    ...(inner.fits ? { fits: (text: string) => inner.fits!(text) } : {}),
    hits: 0,
    misses: 0,
    async embed(texts: string[]): Promise<Vector[]> {
      const out: Array<Vector | undefined> = texts.map((t) => {
        const v = cache.get(t);
        if (v) {
          cache.delete(t);
          cache.set(t, v);
        }
        return v;
      });
      const missing = texts.filter((_, i) => !out[i]);
      wrapped.hits += texts.length - missing.length;
      wrapped.misses += missing.length;
      if (missing.length > 0) {
        const fresh = await inner.embed(missing);
        let j = 0;
        texts.forEach((t, i) => {
          if (out[i]) return;
          const v = fresh[j++]!;
          out[i] = v;
          cache.set(t, v);
          if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
        });
      }
      return out as Vector[];
    },
  };
  return wrapped;
}
