import type { Vector } from '../vectors/vector.js';
import type { Embedder } from './embedder.js';

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
    ...(inner.close ? { close: () => inner.close!() } : {}),
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
