/** The opposites guard: a word in one question whose opposite is in the other (install / uninstall). */
import type { Token } from '../question/text.js';
import { OPPOSITES } from './words/opposites.js';

/** What the opposites guard reads of a question. */
export interface OppositesView {
  /** Sides of Latin opposite pairs present (pair index * 2 + side). */
  opposites: Set<number>;
  cjk: boolean;
  /** The words joined (without spaces when the question is CJK). */
  text: string;
}

/** Pair word -> the sides (pair index * 2 + 0 | 1) of the Latin opposite pairs it belongs to. */
const OPPOSITE_SIDES = new Map<string, number[]>();
/** CJK opposite pairs, matched as substrings. */
const CJK_OPPOSITES: Array<readonly [string, string]> = [];
OPPOSITES.forEach(([a, b], i) => {
  if (/[^ -~]/.test(a)) {
    CJK_OPPOSITES.push([a, b]);
    return;
  }
  for (const [word, side] of [
    [a, 0],
    [b, 1],
  ] as const) {
    const sides = OPPOSITE_SIDES.get(word) ?? [];
    sides.push(i * 2 + side);
    OPPOSITE_SIDES.set(word, sides);
  }
});
const INFLECTION = /^(.{2,}?)(ing|ed|(?<=ch|sh|x|ss|z)es|(?<![su])s)$/;

/** The opposite-pair sides of a word or of its base form: added, adding, adds -> add; removed -> remove; stopped -> stop. */
function oppositeSides(word: string): number[] | undefined {
  const exact = OPPOSITE_SIDES.get(word);
  if (exact) return exact;
  const m = INFLECTION.exec(word);
  if (!m) return undefined;
  const base = m[1]!;
  const verb = m[2] === 'ing' || m[2] === 'ed';
  return (
    OPPOSITE_SIDES.get(base) ??
    (verb ? OPPOSITE_SIDES.get(`${base}e`) : undefined) ??
    (verb && base.length > 2 && base.at(-1) === base.at(-2)
      ? OPPOSITE_SIDES.get(base.slice(0, -1))
      : undefined)
  );
}

/** The opposite-pair sides of the question's (non-CJK) words. */
export function oppositesOf(tokens: readonly Token[]): Set<number> {
  const opposites = new Set<number>();
  for (const t of tokens) {
    if (t.cjk) continue;
    const sides = oppositeSides(t.text);
    if (sides) for (const side of sides) opposites.add(side);
  }
  return opposites;
}

export function oppositesDiffer(q: OppositesView, c: OppositesView): boolean {
  for (const side of q.opposites) {
    const other = side ^ 1;
    if (c.opposites.has(other) && !c.opposites.has(side) && !q.opposites.has(other)) return true;
  }
  if (!q.cjk && !c.cjk) return false;
  for (const [a, b] of CJK_OPPOSITES) {
    const qa = q.text.includes(a);
    const qb = q.text.includes(b);
    const ca = c.text.includes(a);
    const cb = c.text.includes(b);
    if ((qa && !qb && cb && !ca) || (qb && !qa && ca && !cb)) return true;
  }
  return false;
}
