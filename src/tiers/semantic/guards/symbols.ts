/** The symbols guard: the questions differ in emoji, operators or superscript-like forms (👍 / 👎, == / ===). */
import { MEANINGFUL_FORMS } from '../question/unicode.js';

/**
 * Symbols that carry meaning and that embedders drop or cannot read: emoji (👍 vs 👎),
 * comparison or equality operators (== vs ===, >= vs <=), and superscripts, subscripts,
 * fractions and enclosed numbers or letters (3ⁿ vs 3n, H₂O vs H2O, ½, ①), which are never folded
 * into plain text (question/unicode.ts) but which a model may read as plain text all the same.
 * Punctuation is not among them.
 */
const MEANINGFUL_SYMBOLS = new RegExp(
  `\\p{Extended_Pictographic}|===|!==|==|!=|<=|>=|=>|->|<-|\\s[<>]\\s|${MEANINGFUL_FORMS}`,
  'gu',
);

export function symbolsOf(text: string): string[] {
  return (text.match(MEANINGFUL_SYMBOLS) ?? []).map((s) => s.trim()).sort();
}

export function symbolsDiffer(q: readonly string[], c: readonly string[]): boolean {
  return q.join(' ') !== c.join(' ');
}
