/**
 * The judge of a label: would the cached answer have been right for the asking question? It is
 * given the fresh answer the model just gave to that question, so the question becomes "do these
 * two answers say the same thing?" — which needs no model for most answers.
 *
 * The default judge (`defaultJudge`) is conservative on purpose: a wrong "right" would teach the
 * tier to serve wrong answers, a wrong "wrong" only costs hits.
 * - Tool calls must be the same calls (name and arguments as canonical JSON, in any order).
 * - JSON answers (a fenced ```json block too) must be the same value.
 * - Answers equal once normalised (case, spacing, quotes, final punctuation) are right.
 * - Short answers (classifications, labels, numbers, names: under SHORT_WORDS words or SHORT_CHARS
 *   characters) must be equal: "positive" and "negative" are close in any embedding.
 * - Prose is compared sentence by sentence (sameSentences: reworded openings and sign-offs do not
 *   count), else as whole texts by the similarity of their embeddings: at least PROSE_RIGHT is
 *   right, below PROSE_WRONG is wrong, in between is unsure; so is prose whose numbers differ or
 *   that a precision guard of the tier tells apart (number words, negation, opposites, entities),
 *   and prose longer than the embedder sees whole.
 * An unsure pair goes to the background judge when there is one; otherwise it counts as wrong.
 */

import type { Embedder } from '../embedders/embedder.js';
import { ALL_GUARDS, refusingGuard } from '../guards/guards.js';
import { hasInvisible } from '../question/unicode.js';
import { dot } from '../vectors/vector.js';
import type { AnswerText } from './answer.js';

export type { AnswerText, ToolCallText } from './answer.js';

export type Verdict = 'right' | 'wrong' | 'unsure';

export interface JudgedPair {
  /** The question asked now. */
  question: string;
  /** The cached entry's question. */
  cachedQuestion: string;
  /** The cached entry's answer: would it have been right for `question`? */
  cached: AnswerText;
  /** What the model answered `question` just now. */
  fresh: AnswerText;
}

/** Decides a label (the config's `judge`); `true`/`false` mean right/wrong. */
export type AnswerJudge = (pair: JudgedPair) => Verdict | boolean | Promise<Verdict | boolean>;

/** Decides, after the response, a pair the judge was unsure of (the config's `backgroundJudge`). */
export type BackgroundJudge = (pair: JudgedPair) => boolean | Promise<boolean>;

const SHORT_WORDS = 12;
const SHORT_CHARS = 80;
export const PROSE_RIGHT = 0.92;
export const PROSE_WRONG = 0.8;

export function defaultJudge(embedder: Embedder): AnswerJudge {
  return async ({ cached, fresh }) => {
    const calls = sameToolCalls(cached, fresh);
    if (calls !== undefined) return calls;
    const a = normalised(cached.text);
    const b = normalised(fresh.text);
    if (a === b) return 'right';
    if (a === '' || b === '') return 'wrong';
    const json = sameJson(cached.text, fresh.text);
    if (json !== undefined) return json ? 'right' : 'wrong';
    if (isShort(a) || isShort(b)) return 'wrong';
    const bySentence = await sameSentences(embedder, cached.text, fresh.text);
    if (bySentence !== undefined) return bySentence;
    // An embedder that cannot see all of an answer would call two answers that part late alike.
    if (embedder.fits?.(a) === false || embedder.fits?.(b) === false) return 'unsure';
    const [va, vb] = await embedder.embed([a, b]);
    const similarity = dot(va!, vb!);
    if (similarity < PROSE_WRONG) return 'wrong';
    if (tellApart(cached.text, fresh.text)) return 'unsure';
    return similarity >= PROSE_RIGHT ? 'right' : 'unsure';
  };
}

/**
 * Alike, but "2 tablets" is not "4 tablets", "charged" is not "not charged", the Pro plan is not
 * Enterprise: the question guards read answers too. Hidden text may say something else to a
 * reader's tools.
 */
function tellApart(a: string, b: string): boolean {
  return (
    numbersOf(normalised(a)) !== numbersOf(normalised(b)) ||
    refusingGuard(a, b, ALL_GUARDS) !== undefined ||
    hasInvisible(a) !== hasInvisible(b)
  );
}

/**
 * Two prose answers sentence by sentence: right when every sentence of each has a counterpart in
 * the other (embeddings at PROSE_RIGHT or more) but for courtesies only one of them has
 * ("Sure.", "I hope this helps."), and what is left says the same (tellApart). Models reword
 * openings and sign-offs from one call to the next; the whole-text embedding of two such answers
 * falls under the bar although they agree. Undefined when the sentences do not settle it (an
 * unmatched sentence with substance, or none matched): the whole texts are compared instead.
 */
async function sameSentences(embedder: Embedder, a: string, b: string): Promise<Verdict | undefined> {
  const sa = sentencesOf(a);
  const sb = sentencesOf(b);
  if (sa.length + sb.length > MAX_SENTENCES) return undefined;
  const texts = [...sa, ...sb].map(normalised);
  if (texts.some((t) => t === '' || embedder.fits?.(t) === false)) return undefined;
  const vectors = await embedder.embed(texts);
  const va = vectors.slice(0, sa.length);
  const vb = vectors.slice(sa.length);
  const kept = (own: string[], mine: typeof va, theirs: typeof va) => {
    const matched: string[] = [];
    for (const [i, v] of mine.entries()) {
      if (theirs.some((w) => dot(v!, w!) >= PROSE_RIGHT)) matched.push(own[i]!);
      else if (!isCourtesy(own[i]!)) return undefined;
    }
    return matched;
  };
  const ma = kept(sa, va, vb);
  const mb = kept(sb, vb, va);
  if (!ma || !mb || ma.length === 0 || mb.length === 0) return undefined;
  return tellApart(ma.join(' '), mb.join(' ')) ? 'unsure' : 'right';
}

/** Sentences (and lines) of an answer. */
function sentencesOf(text: string): string[] {
  return text
    .split(/(?<=[.!?。！？])\s+|(?<=[。！？])|\n+/u)
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/**
 * A sentence that may stand in one answer only: short, with no number and no negation (a greeting,
 * a sign-off). "It is not safe." and "It costs $10." are never courtesies.
 */
function isCourtesy(sentence: string): boolean {
  const short = sentence.split(/\s+/u).length <= COURTESY_WORDS && sentence.length <= COURTESY_CHARS;
  return short && !/\p{N}/u.test(sentence) && !NEGATION.test(sentence);
}

const COURTESY_WORDS = 8;
const COURTESY_CHARS = 60;
/** Beyond this many sentences, the whole texts are compared (embedding them all would cost too much). */
const MAX_SENTENCES = 64;
const NEGATION =
  /\b(?:not|no|never|none|nothing|nobody|nowhere|neither|nor|cannot|without|avoid|don't|doesn't|didn't|won't|isn't|aren't|wasn't|shouldn't|can't|mustn't)\b|n't|不|没|無|无|别|別|勿|非/iu;

/** A judge's answer as a verdict; anything else (a throw, a bad value) is unsure. */
export function verdictOf(value: unknown): Verdict {
  if (value === true || value === 'right') return 'right';
  if (value === false || value === 'wrong') return 'wrong';
  return 'unsure';
}

/** right / wrong when either answer calls tools; undefined when neither does. */
function sameToolCalls(a: AnswerText, b: AnswerText): Verdict | undefined {
  if (a.toolCalls.length === 0 && b.toolCalls.length === 0) return undefined;
  // Canonical arguments, and their number literals as written (parsing rounds long ones alike).
  const calls = (x: AnswerText) =>
    x.toolCalls.map((c) => `${c.name}\0${canonicalJson(c.args) ?? c.args}\0${jsonNumbers(c.args)}`).sort();
  const ca = calls(a);
  const cb = calls(b);
  if (ca.length !== cb.length || ca.some((c, i) => c !== cb[i])) return 'wrong';
  // Same calls: the text beside them (often none) must agree too.
  return normalised(a.text) === normalised(b.text) ? 'right' : 'wrong';
}

/**
 * Whether two answers are the same JSON value; undefined unless both are JSON. Their number
 * literals must be the same too: parsing rounds 90071992547409931 and 90071992547409935 alike.
 */
function sameJson(a: string, b: string): boolean | undefined {
  const ja = canonicalJson(unfenced(a));
  const jb = canonicalJson(unfenced(b));
  if (ja === undefined || jb === undefined) return undefined;
  return ja === jb && jsonNumbers(a) === jsonNumbers(b);
}

function unfenced(text: string): string {
  const fenced = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/u.exec(text);
  return fenced ? fenced[1]! : text;
}

/** JSON text with object keys sorted (so key order does not matter), or undefined if not JSON. */
function canonicalJson(text: string): string | undefined {
  const trimmed = text.trim();
  if (!/^[[{"\d-]|^(true|false|null)$/u.test(trimmed)) return undefined;
  try {
    return JSON.stringify(sortKeys(JSON.parse(trimmed)));
  } catch {
    return undefined;
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

/**
 * Case, spacing, quotes and emphasis set aside, and final punctuation. Not NFKC: it folds 2³ into
 * 23 and H₂O₂ into H2O2; nor leading dots or signs: .5 is not 5.
 */
function normalised(text: string): string {
  return text
    .normalize('NFC')
    .toLowerCase()
    .replace(/\s+/gu, ' ')
    .trim()
    .replace(/^["'`*_\s]+|["'`*_.,;:!?。，！？\s]+$/gu, '');
}

function isShort(text: string): boolean {
  return text.length < SHORT_CHARS || text.split(' ').length < SHORT_WORDS;
}

/** The numbers an answer states, as a sorted list: "3 apples and 12 pears" → "12 3". */
function numbersOf(text: string): string {
  return (text.match(/\d+(?:[.,]\d+)*/gu) ?? []).sort().join(' ');
}

/** A JSON text's number literals as written, sorted (outside strings too: a conservative check). */
function jsonNumbers(text: string): string {
  return (text.match(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/gu) ?? []).sort().join(' ');
}
