/**
 * A second opinion on a candidate that passed the threshold and the guards: another embedder
 * scores the question against the stored question, and the hit stands only if that score, too,
 * reaches its threshold.
 *
 * Why a second embedder rather than a lower threshold on one: two models trained on different
 * data rarely agree on the same wrong pair. On GPTCache's mock set all-MiniLM-L6-v2 alone gives
 * 626 correct / 19 wrong at 0.91; all-MiniLM-L6-v2 at 0.8 verified by multilingual-e5-small at
 * 0.97 gives 713 / 24 (bench/README.md, `npm run bench -- embedders`). It costs one embedding of
 * each text by the second model, and only on lookups that would otherwise hit.
 */
import { dot } from '../vectors/vector.js';
import type { Embedder } from './embedder.js';

export type Verifier = (query: string, candidate: string) => boolean | Promise<boolean>;

/** The verifier that accepts a candidate when `embedder` scores the pair at `threshold` or above. */
export function embedderVerifier(embedder: Embedder, threshold: number): Verifier {
  return async (query, candidate) => {
    // A model that cannot see all of either text cannot vouch for the pair.
    if (embedder.fits && !(embedder.fits(query) && embedder.fits(candidate))) return false;
    const [a, b] = await embedder.embed([query, candidate]);
    return dot(a!, b!) >= threshold;
  };
}
