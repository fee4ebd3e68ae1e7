import { normalize } from '../vectors/vector.js';
import type { Embedder } from './embedder.js';

/** Any LangChain `EmbeddingsInterface` as an embedder (its vectors normalized to unit length). */

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
