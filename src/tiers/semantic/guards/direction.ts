/** The direction guard: "5 miles to km" against "5 km to miles", the same things related the other way round. */
import { ARTICLES, RELATIONS } from './words/relations.js';

/** What the direction guard reads of a question. */
export interface DirectionView {
  words: string[];
  /** Relation word -> the next content word after it. */
  relations: Map<string, Set<string>>;
}

/** Each relation word with the set of words that follow it (every occurrence). */
export function relationsOf(words: string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  words.forEach((w, i) => {
    if (!RELATIONS.has(w)) return;
    let next: string | undefined;
    for (let j = i + 1; j < words.length && next === undefined; j++)
      if (!ARTICLES.has(words[j]!)) next = words[j];
    if (!next) return;
    const objects = out.get(w) ?? new Set<string>();
    objects.add(next);
    out.set(w, objects);
  });
  return out;
}

/**
 * "A to B" against "B to A": a relation word takes x in one prompt and y in the other, while
 * both prompts contain both x and y, so the same things are related the other way round.
 */
export function swapped(q: DirectionView, c: DirectionView): boolean {
  for (const [relation, qObjects] of q.relations) {
    const cObjects = c.relations.get(relation);
    if (!cObjects) continue;
    for (const x of qObjects) {
      if (cObjects.has(x) || !c.words.includes(x)) continue;
      for (const y of cObjects) if (!qObjects.has(y) && q.words.includes(y)) return true;
    }
  }
  return false;
}
