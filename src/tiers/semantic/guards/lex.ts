/**
 * The guards' own tokens, case kept (a capital inside a sentence marks a name), for quantities
 * and entities: numbers, CJK characters one by one, words and signs, each with its offsets.
 */
import { foldCompatibility, spellCompatibility, withoutInvisible } from '../question/unicode.js';

export const NUM = 0;
export const WORD = 1;
export const CJK_CHAR = 2;
export const SYM = 3;

export interface Tok {
  kind: number;
  /** Lower case. */
  text: string;
  start: number;
  end: number;
  /** Starts with a capital and is not the first word of a sentence. */
  name: boolean;
  /** First word of a sentence. */
  initial: boolean;
}

const CJK_RANGES = '\\u3040-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uac00-\\ud7af\\uf900-\\ufaff';
/** Letters of a word: any script but CJK, whose characters are tokens of their own. */
const LETTER = `[^\\P{L}${CJK_RANGES}]`;
/** Numbers (3, 3.11, 21:00), CJK characters, words (don't, a.m, c++, c#), signs (^ of an exponent too). */
const TOKEN = new RegExp(
  `(\\d+(?:[.:]\\d+)*)|([${CJK_RANGES}])|(${LETTER}(?:${LETTER}|\\p{M}|['’.](?=${LETTER}))*(?:\\+\\+|#)?)|([$€£¥₹%°+\\-−^])`,
  'gu',
);
const SENTENCE_BREAK = /[.?!;:\n"“”()[\]|。？！；：]/;
const UPPER = /\p{Lu}/u;
const THOUSANDS = /(\d),(?=\d{3}(?!\d))/g;
/** List markers ("1)", "2.") number the parts of a text, not what it asks about. */
export const LIST_MARKER = /(^|\s)\(?\d{1,2}[).](?=\s)/g;

export function lex(prompt: string): { s: string; toks: Tok[] } {
  // Never NFKC: it read 10² as 102 and 2³ as 23. Superscripts, subscripts, fractions and enclosed
  // numbers are spelled out instead (10^2, H_2O, 1/2, (1)), an exponent being a value of its own.
  const s = spellCompatibility(foldCompatibility(withoutInvisible(prompt)))
    .replace(LIST_MARKER, '$1')
    .replace(THOUSANDS, '$1');
  const toks: Tok[] = [];
  let initial = true;
  let last = 0;
  let words = 0;
  let capitalized = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(s); m; m = TOKEN.exec(s)) {
    for (let i = last; i < m.index; i++) {
      if (SENTENCE_BREAK.test(s[i]!)) {
        initial = true;
        break;
      }
    }
    const text = m[0];
    const kind = m[1] ? NUM : m[2] ? CJK_CHAR : m[3] ? WORD : SYM;
    const cap = kind === WORD && UPPER.test(text[0]!);
    if (kind === WORD && !initial && text !== 'I' && !text.startsWith("I'")) {
      words++;
      if (cap) capitalized++;
    }
    toks.push({
      kind,
      text: kind === WORD ? text.toLowerCase().replace('’', "'") : text,
      start: m.index,
      end: m.index + text.length,
      name: cap && !initial && text !== 'I' && !text.startsWith("I'"),
      initial: initial && kind !== SYM,
    });
    if (kind !== SYM) initial = kind === CJK_CHAR && SENTENCE_BREAK.test(text);
    last = m.index + text.length;
  }
  // Title Case Questions Capitalize Every Word: no capital marks a name there.
  if (words >= 3 && capitalized * 2 > words) for (const t of toks) t.name = false;
  return { s, toks };
}

/** Index of the token that ends at or before `offset` (the one before a token starting there). */
export function toksIndexBefore(toks: Tok[], offset: number): number {
  let lo = 0;
  let hi = toks.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (toks[mid]!.end <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
