/**
 * What the semantic tier needs from an embedder: unit-length vectors of a fixed size. Built-in
 * embedders implement it; any LangChain `EmbeddingsInterface` is adapted to it.
 */
export interface Embedder {
  /** Identifies the model; vectors of different ids are never compared (it is stored with each vector). */
  readonly id: string;
  embed(texts: string[]): Promise<Float32Array[]>;
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

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/**
 * An LRU of embeddings by text, so a prompt asked again is embedded once. Wraps any embedder.
 */
export function withEmbeddingCache(
  inner: Embedder,
  maxEntries = 10_000,
): Embedder & { hits: number; misses: number } {
  const cache = new Map<string, Float32Array>();
  const wrapped = {
    id: inner.id,
    hits: 0,
    misses: 0,
    async embed(texts: string[]): Promise<Float32Array[]> {
      const out: Array<Float32Array | undefined> = texts.map((t) => {
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
      return out as Float32Array[];
    },
  };
  return wrapped;
}
