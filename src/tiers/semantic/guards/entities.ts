/**
 * The entities guard: the two questions name different members of one closed class (Python /
 * Java, monthly / yearly, 免费版 / 专业版), or differ in a name or two (Tokyo / Osaka). The header
 * of guards.ts says what counts.
 */
import { STOPWORDS, stem } from '../question/text.js';
import { SYM, type Tok, WORD } from './lex.js';
import { CJK_ENTITY_SPEC, ENTITY_SPEC, FILLER, PLAN_NOUNS } from './words/entities.js';
import { NEGATIONS } from './words/negations.js';
import { CURRENCY_BEFORE } from './words/numbers.js';

interface Entity {
  cls: string;
  canon: string;
  /** Counted only when capitalized inside a sentence (or, for tiers, before a plan noun). */
  ambiguous: boolean;
}

function entityTable(specs: readonly string[]): Map<string, Entity> {
  const out = new Map<string, Entity>();
  for (const spec of specs) {
    const [cls, members] = spec.split('=') as [string, string];
    for (const member of members.split(' ')) {
      const [canon, words] = member.split(':') as [string, string];
      for (const raw of words.split(',')) {
        const ambiguous = raw.startsWith('^');
        out.set((ambiguous ? raw.slice(1) : raw).replaceAll('_', ' '), { cls, canon, ambiguous });
      }
    }
  }
  return out;
}
const ENTITIES = entityTable(ENTITY_SPEC);
const CJK_ENTITIES = [...entityTable(CJK_ENTITY_SPEC)];

export interface Entities {
  /** Class -> canonical members named. */
  classes: Map<string, Set<string>>;
  /** Content words (stems, or "=canonical" for a lexicon entry). */
  content: Set<string>;
  /** The content words written as names (capitalized inside a sentence). */
  names: Set<string>;
}

export function entitiesOf(s: string, toks: Tok[], hasCjk: boolean): Entities {
  const classes = new Map<string, Set<string>>();
  const content = new Set<string>();
  const names = new Set<string>();
  const add = (e: Entity) => {
    const set = classes.get(e.cls) ?? new Set<string>();
    set.add(e.canon);
    classes.set(e.cls, set);
  };
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind !== WORD) {
      const currency = t.kind === SYM ? CURRENCY_BEFORE.get(t.text) : undefined;
      if (currency) add({ cls: 'currency', canon: currency, ambiguous: false });
      continue;
    }
    const next = toks[i + 1];
    let entity: Entity | undefined;
    let span = 1;
    if (next?.kind === WORD) {
      entity = ENTITIES.get(`${t.text} ${next.text}`);
      if (entity) span = 2;
    }
    entity ??=
      ENTITIES.get(t.text) ?? (t.text.endsWith("'s") ? ENTITIES.get(t.text.slice(0, -2)) : undefined);
    const isName = t.name || (span === 2 && next!.name);
    if (entity?.ambiguous) {
      const after = toks[i + span];
      const planNoun = entity.cls === 'tier' && after !== undefined && PLAN_NOUNS.has(after.text);
      if (!isName && !planNoun) entity = undefined;
    }
    if (entity) {
      add(entity);
      const key = `=${entity.canon}`;
      content.add(key);
      if (isName) names.add(key);
      i += span - 1;
      continue;
    }
    if (STOPWORDS.has(t.text) || FILLER.has(t.text) || NEGATIONS.has(t.text)) continue;
    // M.S. / MS, U.N. / UN
    const w = stem(t.text.includes('.') ? t.text.replaceAll('.', '') : t.text);
    if (STOPWORDS.has(w)) continue;
    content.add(w);
    if (t.name) names.add(w);
  }
  if (hasCjk) for (const [word, e] of CJK_ENTITIES) if (s.includes(word)) add(e);
  return { classes, content, names };
}

/**
 * A name and another that share a stem ("India" / "Indian", "Japan" / "Japanese") or are one
 * typo apart ("Senstor" / "Senator") are alike.
 */
function related(a: string, b: string): boolean {
  const x = a.replace('=', '');
  const y = b.replace('=', '');
  if (x.startsWith(y) || y.startsWith(x)) return true;
  if (x.length >= 4 && y.length >= 4 && x.slice(0, 4) === y.slice(0, 4)) return true;
  return x.length >= 5 && y.length >= 5 && oneEditApart(x, y);
}

/** One substitution, insertion, deletion or swap of neighbours turns a into b. */
function oneEditApart(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  const restA = a.length - i - j;
  const restB = b.length - i - j;
  if (restA <= 1 && restB <= 1) return true;
  return restA === 2 && restB === 2 && a[i] === b[i + 1] && a[i + 1] === b[i];
}

function differingNames(q: Entities, c: Entities): boolean {
  const onlyQ: string[] = [];
  const onlyC: string[] = [];
  for (const w of q.content) if (!c.content.has(w)) onlyQ.push(w);
  if (onlyQ.length === 0 || onlyQ.length > 2) return false;
  for (const w of c.content) if (!q.content.has(w)) onlyC.push(w);
  if (onlyC.length === 0 || onlyC.length > 2) return false;
  // "VS" / "Visual Studio", "UP" / "Uttar Pradesh": an initialism of the other side's names.
  if (initialism(onlyQ, onlyC, c.names) || initialism(onlyC, onlyQ, q.names)) return false;
  for (const x of onlyQ) {
    if (!q.names.has(x)) continue;
    for (const y of onlyC) if (c.names.has(y) && !related(x, y)) return true;
  }
  return false;
}

function initialism(short: string[], long: string[], names: Set<string>): boolean {
  let initials = '';
  for (const w of long) if (names.has(w)) initials += w[0] === '=' ? w[1] : w[0];
  return initials.length >= 2 && short.includes(initials);
}

export function entitiesDiffer(q: Entities, c: Entities): boolean {
  for (const [cls, qs] of q.classes) {
    const cs = c.classes.get(cls);
    if (!cs) continue;
    let qOnly = false;
    for (const x of qs) if (!cs.has(x)) qOnly = true;
    if (!qOnly) continue;
    for (const y of cs) if (!qs.has(y)) return true;
  }
  return differingNames(q, c);
}
