import type { Vector } from '../vectors/vector.js';

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
  /** Fails texts queued and not yet started, and waits for work in progress (the tier's close calls it). */
  close?(): Promise<void>;
}
