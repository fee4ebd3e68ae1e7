/**
 * Text normalization and tokenization shared by the lexical embedder and the precision guards.
 *
 * Case, Unicode width forms, punctuation and whitespace are folded away, invisible characters
 * removed. Compatibility forms that change meaning (10², H₂O, ½, ①) are kept as characters of
 * their own, so 10² is a different word from 102: text is NFC plus only the folds unicode.ts
 * lists (foldCompatibility), never NFKC. Latin-script text is split into words; CJK text has no
 * spaces, so each run of Han/Kana/Hangul characters becomes its single characters plus their
 * overlapping pairs (Chinese words are mostly two characters).
 */
import { foldCompatibility, withoutInvisible } from './unicode.js';

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]/u;
const SPLIT = /([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+)/u;

export function normalizeText(text: string): string {
  return foldCompatibility(withoutInvisible(text))
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/(\d),(\d{3})/g, '$1$2') // 1,000 -> 1000
    .replace(/(\d)\s*(?:%|percent\b|per cent\b)/g, '$1%') // 15 %, 15 percent -> 15%
    .replace(/[^\p{L}\p{N}'.%+_\-\s]/gu, ' ') // _ stays: save_to_disk is one identifier
    .replace(/(^|\s)[.'+-]+|[.'+-]+(?=\s|$)/g, ' ') // punctuation at word edges
    .replace(/\s+/g, ' ')
    .trim();
}

export interface Token {
  text: string;
  cjk: boolean;
}

/** Words (Latin and others) and CJK characters, in order. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  for (const part of normalizeText(text).split(SPLIT)) {
    if (!part) continue;
    if (CJK.test(part[0]!)) {
      for (const ch of part) tokens.push({ text: ch, cjk: true });
    } else {
      for (const word of part.split(' ')) if (word) tokens.push({ text: word, cjk: false });
    }
  }
  return tokens;
}

/** Very light English stemming: enough to make "installs", "installed" and "installing" meet. */
export function stem(word: string): string {
  if (word.length <= 4 || /\d/.test(word)) return word;
  if (word.endsWith("'s")) return word.slice(0, -2);
  if (word.endsWith('ies') && word.length > 5) return `${word.slice(0, -3)}y`;
  if (word.endsWith('ing') && word.length > 5) return word.slice(0, -3);
  if (word.endsWith('ed') && word.length > 5) return word.slice(0, -2);
  if (word.endsWith('es') && /(ch|sh|x|ss)es$/.test(word)) return word.slice(0, -2);
  if (word.endsWith('s') && !word.endsWith('ss') && !word.endsWith('us')) return word.slice(0, -1);
  return word;
}

/** Words that carry little of a question's meaning; weighted down, never dropped. */
export const STOPWORDS = new Set(
  (
    'a an the is are was were be been being am do does did doing have has had having i me my we our you your he she it its they them their ' +
    'what which who whom whose when where why how this that these those there here of in on at by for with about as into onto from to ' +
    'and or but if then so than too very can could should would will shall may might must just also please tell explain give show ' +
    'some any all each every much many one get got make way ways thing things know want need help'
  ).split(' '),
);
