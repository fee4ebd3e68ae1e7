/**
 * The `lexical` embedder: deterministic, dependency-free, a few microseconds per prompt.
 *
 * Features, hashed into a fixed-size signed vector (the "hashing trick"):
 *   - each word's light stem (weight 1; stopwords 0.25), so case, punctuation, whitespace,
 *     inflection and word order do not change the vector;
 *   - character trigrams inside each word (weight 0.5 spread over the word), so typos and
 *     compound variants still overlap;
 *   - for CJK text, single characters (0.5) and overlapping character pairs (1), since Chinese
 *     has no spaces and most words are two characters long.
 * Order is deliberately not encoded: "5 miles to km" and "5 km to miles" embed alike, and the
 * direction guard tells them apart. The vector is sparse (2^20 dimensions, a few dozen non-zero,
 * so hash collisions are negligible) and L2-normalized, so similarity is cosine.
 */

import { STOPWORDS, stem, tokenize } from '../question/text.js';
import type { SparseVector } from '../vectors/vector.js';
import type { Embedder } from './embedder.js';

export const LEXICAL_DIMENSIONS = 1 << 20;

/** Default thresholds, chosen from the curves in bench/README.md (precision >= 0.95). */
export const DEFAULT_THRESHOLDS = { lexical: 0.88, onnx: 0.91 } as const;

export function lexicalEmbedder(dimensions = LEXICAL_DIMENSIONS): Embedder {
  return {
    // v2: text is NFC plus explicit folds, not NFKC (10² is no longer 102) and invisible
    // characters are removed, not spaced. The id is stored with every vector, so v1 vectors are
    // neither loaded nor searched: they embedded some questions as other ones.
    id: `lexical-v2-${dimensions}`,
    async embed(texts) {
      return texts.map((t) => embedLexical(t, dimensions));
    },
  };
}

export function embedLexical(text: string, dimensions = LEXICAL_DIMENSIONS): SparseVector {
  const v = new Map<number, number>();
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature);
    const d = h % dimensions;
    v.set(d, (v.get(d) ?? 0) + (h & 0x80000000 ? -weight : weight));
  };
  const tokens = tokenize(text);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.cjk) {
      add(`c:${token.text}`, 0.5);
      const next = tokens[i + 1];
      if (next?.cjk) add(`b:${token.text}${next.text}`, 1);
      continue;
    }
    const word = stem(token.text);
    add(`w:${word}`, STOPWORDS.has(token.text) ? 0.25 : 1);
    if (STOPWORDS.has(token.text) || word.length < 4) continue;
    const padded = `<${word}>`;
    const grams = padded.length - 2;
    for (let j = 0; j < grams; j++) add(`g:${padded.slice(j, j + 3)}`, 0.5 / Math.sqrt(grams));
  }
  const entries = [...v].filter(([, w]) => w !== 0).sort((a, b) => a[0] - b[0]);
  const norm = Math.sqrt(entries.reduce((sum, [, w]) => sum + w * w, 0)) || 1;
  return {
    dim: dimensions,
    idx: Uint32Array.from(entries, ([d]) => d),
    val: Float32Array.from(entries, ([, w]) => w / norm),
  };
}

/** 32-bit FNV-1a over UTF-16 code units: fast and well spread for short strings. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
