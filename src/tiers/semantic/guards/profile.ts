/**
 * What the guards read of a question, computed once and kept (small LRU): the same query is
 * checked against several candidates and the same entries come up again and again.
 */
import { tokenize } from '../question/text.js';
import { relationsOf } from './direction.js';
import { type Entities, entitiesOf } from './entities.js';
import { LIST_MARKER, lex } from './lex.js';
import { isNegated } from './negation.js';
import { type Quantities, quantitiesOf } from './numbers.js';
import { oppositesOf } from './opposites.js';
import { symbolsOf } from './symbols.js';

export interface Profile {
  words: string[];
  text: string;
  cjk: boolean;
  quantities: Quantities;
  negated: boolean;
  /** Sides of Latin opposite pairs present (pair index * 2 + side). */
  opposites: Set<number>;
  /** Relation word -> the next content word after it. */
  relations: Map<string, Set<string>>;
  entities: Entities;
  /** Emoji and operators, sorted (symbolsOf). */
  symbols: string[];
}

const PROFILES = new Map<string, Profile>();
const PROFILE_CACHE = 512;

export function profileOf(prompt: string): Profile {
  const cached = PROFILES.get(prompt);
  if (cached) {
    PROFILES.delete(prompt);
    PROFILES.set(prompt, cached);
    return cached;
  }
  const p = profile(prompt);
  PROFILES.set(prompt, p);
  if (PROFILES.size > PROFILE_CACHE) PROFILES.delete(PROFILES.keys().next().value!);
  return p;
}

function profile(prompt: string): Profile {
  const tokens = tokenize(prompt.replace(LIST_MARKER, '$1'));
  const words = tokens.map((t) => t.text);
  const cjk = tokens.some((t) => t.cjk);
  const { s, toks } = lex(prompt);
  const text = words.join(cjk ? '' : ' ');
  return {
    words,
    text,
    cjk,
    quantities: quantitiesOf(s, toks),
    negated: isNegated(tokens, text, cjk),
    opposites: oppositesOf(tokens),
    relations: relationsOf(words),
    entities: entitiesOf(s, toks, cjk),
    symbols: symbolsOf(prompt),
  };
}
