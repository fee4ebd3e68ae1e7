/**
 * The similarity answers `withCache` (and `CachedLLM`) handed out, by the id in their
 * `response_metadata.strata.responseId`, so the application can report on one with
 * `cache.feedback(id, 'right' | 'wrong')` without rebuilding the request's key. One registry per
 * engine: every view of a cache shares it.
 */
import { AnswerIds } from '../core/answer-ids.js';
import type { CacheKey } from '../core/key.js';
import type { Strata } from '../engine/strata.js';

const registries = new WeakMap<Strata, AnswerIds<CacheKey>>();

export function similarAnswers(strata: Strata): AnswerIds<CacheKey> {
  let registry = registries.get(strata);
  if (!registry) {
    registry = new AnswerIds();
    registries.set(strata, registry);
  }
  return registry;
}
