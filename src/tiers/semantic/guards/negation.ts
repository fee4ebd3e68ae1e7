/** The negation guard: whether a question is negated (English words, Chinese characters). */
import type { Token } from '../question/text.js';
import { NEGATIONS, NOT_NEGATIONS } from './words/negations.js';

function negatedCjk(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (!NEGATIONS.has(text[i]!)) continue;
    if (NOT_NEGATIONS.has(text.slice(i, i + 2)) || NOT_NEGATIONS.has(text.slice(i - 1, i + 1))) continue;
    // 能不能, 是不是, 有没有: a question, not a negation.
    if (i > 0 && text[i - 1] === text[i + 1]) continue;
    return true;
  }
  return false;
}

/** A negation among the words, or (Chinese) a negating character that is not part of a longer word. */
export function isNegated(tokens: readonly Token[], text: string, cjk: boolean): boolean {
  for (const t of tokens) if (!t.cjk && (NEGATIONS.has(t.text) || t.text.endsWith("n't"))) return true;
  return cjk && negatedCjk(text);
}
