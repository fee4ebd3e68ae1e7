/**
 * Whether what a tier read may answer a key: the checks every hit passes, whichever tier served
 * it. They return the entry, or why not (a string, so the hit path allocates nothing extra):
 * `stale` is an expired entry still kept for stale-if-error (stale.ts), a miss that is not deleted.
 */
import { copyAnswer, type DecodedAnswers } from './decoded.js';
import { type Answer, answerMatchesKey, decodeEntry, type Entry, isExpired } from './entry.js';
import type { CacheKey } from './key.js';
import { keptStale } from './stale.js';
import type { SimilarMatch } from './tier.js';

type Usable = (answer: Answer, llmString: string) => boolean;

/**
 * An exact tier's payload: decodable, stored for this very key, usable, and live. The answer
 * returned is the caller's own: decoding and the usability check run once per payload
 * (decoded.ts) and each hit gets a copy, unless it only reads (`shared`).
 */
export function judgeExact(
  payload: string,
  key: CacheKey,
  usable: Usable,
  now: number,
  decoded: DecodedAnswers,
  /** The caller only reads the answer: the shared, frozen template instead of a copy. */
  shared = false,
): Answer | 'corrupt' | 'expired' | 'stale' {
  const template = decoded.template(key.hash, payload);
  if (!template || !answerMatchesKey(template.answer, key)) return 'corrupt';
  if (template.usableFor !== key.llmString) {
    if (!usable(template.answer, key.llmString)) return 'corrupt';
    template.usableFor = key.llmString;
  }
  if (!isExpired(template.answer, now)) return shared ? template.answer : copyAnswer(template.answer);
  return keptStale(template.answer, now) ? 'stale' : 'expired';
}

/**
 * A similarity tier's match: intact, the entry the tier says matched, in the same namespace and
 * llm string as the query, usable, and live.
 */
export function judgeSimilar(
  match: SimilarMatch,
  key: CacheKey,
  usable: Usable,
  now: number,
): Entry | 'corrupt' | 'expired' | 'stale' {
  const entry = decodeEntry(match.payload);
  if (
    !entry ||
    entry.k !== match.hash ||
    entry.ns !== key.namespace ||
    entry.llm !== key.llmString ||
    !usable(entry, key.llmString)
  ) {
    return 'corrupt';
  }
  if (!isExpired(entry, now)) return entry;
  return keptStale(entry, now) ? 'stale' : 'expired';
}
