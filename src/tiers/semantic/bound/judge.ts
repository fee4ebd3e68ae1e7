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
 * - Prose is compared by the similarity of the two answers' embeddings: at least PROSE_RIGHT is
 *   right, below PROSE_WRONG is wrong, in between is unsure; so is prose whose numbers differ or
 *   that a precision guard of the tier tells apart (number words, negation, opposites, entities),
 *   and prose longer than the embedder sees whole (give such traffic a judge of its own).
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
    // An embedder that cannot see all of an answer would call two answers that part late alike.
    if (embedder.fits?.(a) === false || embedder.fits?.(b) === false) return 'unsure';
    const [va, vb] = await embedder.embed([a, b]);
    const similarity = dot(va!, vb!);
    if (similarity < PROSE_WRONG) return 'wrong';
    // Alike, but "2 tablets" is not "4 tablets", "charged" is not "not charged", the Pro plan is
    // not Enterprise: the question guards read answers too. Hidden text may say something else
    // to a reader's tools.
    if (
      numbersOf(a) !== numbersOf(b) ||
      refusingGuard(cached.text, fresh.text, ALL_GUARDS) !== undefined ||
      hasInvisible(cached.text) !== hasInvisible(fresh.text)
    )
      return 'unsure';
    return similarity >= PROSE_RIGHT ? 'right' : 'unsure';
  };
}

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
