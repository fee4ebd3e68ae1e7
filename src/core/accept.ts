/**
 * Whether what a tier read may answer a key: the checks every hit passes, whichever tier served
 * it. They return the entry, or why not (a string, so the hit path allocates nothing extra).
 */
import { copyAnswer, type DecodedAnswers } from './decoded.js';
import { type Answer, answerMatchesKey, decodeEntry, type Entry, isExpired } from './entry.js';
import type { CacheKey } from './key.js';
import type { SimilarMatch } from './tier.js';

type Usable = (answer: Answer, llmString: string) => boolean;

/**
 * An exact tier's payload: decodable, stored for this very key, usable, and live. The answer
 * returned is the caller's own: decoding and the usability check run once per payload
 * (decoded.ts) and each hit gets a copy.
 */
export function judgeExact(
  payload: string,
  key: CacheKey,
  usable: Usable,
  now: number,
  decoded: DecodedAnswers,
): Answer | 'corrupt' | 'expired' {
  const template = decoded.template(key.hash, payload);
  if (!template || !answerMatchesKey(template.answer, key)) return 'corrupt';
  if (template.usableFor !== key.llmString) {
    if (!usable(template.answer, key.llmString)) return 'corrupt';
    template.usableFor = key.llmString;
  }
  return isExpired(template.answer, now) ? 'expired' : copyAnswer(template.answer);
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
): Entry | 'corrupt' | 'expired' {
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
  return isExpired(entry, now) ? 'expired' : entry;
}
