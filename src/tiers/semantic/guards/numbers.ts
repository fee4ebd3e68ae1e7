/**
 * The numbers guard: the quantities of a question (digits, number words, Chinese numerals,
 * scales, ordinals, units, currencies, clock times) as canonical values, and whether two
 * questions' differ. The header of guards.ts lists what it compares.
 */
import { CJK_CHAR, NUM, SYM, type Tok, toksIndexBefore, WORD } from './lex.js';
import {
  AM,
  CARDINALS,
  CN_AM,
  CN_DIGITS,
  CN_PM,
  CN_SCALES,
  CN_UNITS,
  CURRENCY_BEFORE,
  NOT_ORDINAL_AFTER,
  NOT_ORDINAL_BEFORE,
  ORDINAL_SUFFIX,
  ORDINALS,
  PM,
  SCALES,
  UNITS,
} from './words/numbers.js';

const TRAILING_ZERO = /\.0+$/;
const CLOCK = /^(\d{1,2})(?::(\d{2}))?$/;

export interface Quantities {
  /**
   * Values other than 1, ordinals included ("2nd" / "2"), sorted, each as often as it is given:
   * "case 0, step 0" is not "case 0, step 1" (whose lone 1 does not count), so the list is a
   * multiset, not a set.
   */
  values: string[];
  /** Value -> the units given to it. */
  units: Map<string, Set<string>>;
  /** Ordinals, sorted. */
  ordinals: string[];
  /** Every unit named anywhere, with a number or not. */
  mentioned: Set<string>;
}

function canonicalNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)));
}

/** What follows a number at token j: a unit, a percent sign, an ordinal suffix, am/pm, a CJK unit. */
function suffixOf(
  s: string,
  toks: Tok[],
  j: number,
  valueEnd: number,
): { unit?: string; percent?: boolean; ordinal?: boolean; ampm?: 'am' | 'pm'; clock?: boolean } {
  const next = toks[j];
  if (!next) return {};
  const attached = next.start === valueEnd;
  const near = next.start - valueEnd <= 1;
  if (next.kind === SYM) {
    if (next.text === '%' && near) return { percent: true };
    if (next.text === '°' && near) {
      const scale = toks[j + 1];
      if (scale?.kind === WORD && (scale.text === 'c' || scale.text === 'celsius')) return { unit: 'c' };
      if (scale?.kind === WORD && (scale.text === 'f' || scale.text === 'fahrenheit')) return { unit: 'f' };
      return { unit: 'degree' };
    }
    return {};
  }
  if (next.kind === WORD && near) {
    const w = next.text;
    if (attached && ORDINAL_SUFFIX.has(w)) return { ordinal: true };
    if (w === 'percent' || w === 'pct') return { percent: true };
    if (AM.has(w)) return { ampm: 'am' };
    if (PM.has(w)) return { ampm: 'pm' };
    if (w === "o'clock") return { clock: true };
    const unit = UNITS.get(w);
    if (unit && (attached || w.length > 1)) return { unit };
    return {};
  }
  if (next.kind === CJK_CHAR && attached) {
    if (next.text === '点' || next.text === '时') {
      // 9点 is nine o'clock; 三点五 is 3.5 (then no unit).
      const after = s[next.start + 1] ?? '';
      const decimal = CN_DIGITS[after] !== undefined || after === '十' || (after >= '0' && after <= '9');
      return decimal ? {} : { clock: true };
    }
    for (const [word, unit] of CN_UNITS) if (s.startsWith(word, next.start)) return { unit };
  }
  return {};
}

/** The value of a run of Chinese numerals, or undefined when it is not a number (百度, 千万, 万一 ...). */
function chineseNumber(run: string): number | undefined {
  let i = 0;
  while (i < run.length && run[i] !== '十' && CN_SCALES[run[i]!] !== undefined) i++;
  const r = run.slice(i);
  if (!r) return undefined;
  if (![...r].some((ch) => CN_SCALES[ch] !== undefined)) {
    // 二〇二四 (a year) reads digit by digit; 三四 (three or four) does too, harmlessly.
    return r.length === 1 ? CN_DIGITS[r]! : Number([...r].map((ch) => CN_DIGITS[ch]).join(''));
  }
  let total = 0;
  let section = 0;
  let digit = -1;
  for (const ch of r) {
    const d = CN_DIGITS[ch];
    if (d !== undefined) {
      digit = d;
      continue;
    }
    const scale = CN_SCALES[ch]!;
    if (scale >= 10000) {
      total = (total + section + Math.max(digit, 0)) * scale;
      section = 0;
    } else section += (digit < 0 ? 1 : digit) * scale;
    digit = -1;
  }
  return total + section + Math.max(digit, 0);
}

export function quantitiesOf(s: string, toks: Tok[]): Quantities {
  const values: string[] = [];
  const units = new Map<string, Set<string>>();
  const ordinals = new Set<string>();
  const record = (value: number | string, start: number, end: number, j: number, ordinal: boolean) => {
    let v = typeof value === 'number' ? value : Number(value);
    let text = typeof value === 'number' ? canonicalNumber(value) : value.replace(TRAILING_ZERO, '');
    // Scales: 5 million, 3万.
    let scaleAt = j;
    const scale = toks[scaleAt];
    if (scale && !ordinal && scale.start - end <= 1) {
      const factor =
        scale.kind === WORD
          ? SCALES.get(scale.text)
          : scale.kind === CJK_CHAR && (scale.text === '万' || scale.text === '亿')
            ? CN_SCALES[scale.text]
            : undefined;
      if (factor && Number.isFinite(v)) {
        v *= factor;
        text = canonicalNumber(v);
        end = scale.end;
        scaleAt++;
      }
    }
    const suffix = ordinal ? {} : suffixOf(s, toks, scaleAt, end);
    if (ordinal || suffix.ordinal) {
      ordinals.add(text);
      if (text !== '1') values.push(text);
      return;
    }
    let unit = suffix.unit;
    // A currency before the number: $10, Rs 500.
    const before = toks[toksIndexBefore(toks, start)];
    if (before && start - before.end <= 1) {
      const currency = CURRENCY_BEFORE.get(before.text);
      if (currency) unit = currency;
      else if (before.text === '^' && before.end === start)
        text = `^${text}`; // 10^2, 10²: an exponent
      else if (before.text === '-' || before.text === '−') {
        // A sign, not a hyphen: "-5", not "3-5" or "COVID-19".
        const prior = toks[toksIndexBefore(toks, before.start)];
        if (before.end === start && (!prior || prior.end < before.start)) text = `-${text}`;
      }
    }
    if (suffix.percent) text = `${text}%`;
    // Times on a 24-hour clock: 9pm, 下午9点 and 21:00 are all 21.
    const clock = CLOCK.exec(text);
    if (clock && (suffix.ampm || suffix.clock || clock[2] !== undefined)) {
      let hour = Number(clock[1]);
      const minutes = clock[2] && clock[2] !== '00' ? `:${clock[2]}` : '';
      const prefix = s.slice(Math.max(0, start - 2), start);
      const pm = suffix.ampm === 'pm' || (suffix.clock && CN_PM.has(prefix));
      const am = suffix.ampm === 'am' || (suffix.clock && CN_AM.has(prefix));
      if (hour <= 24 && (!suffix.ampm || hour <= 12)) {
        if (pm && hour < 12) hour += 12;
        else if (am && hour === 12) hour = 0;
        else if (suffix.clock && prefix === '中午' && hour < 6) hour += 12;
        text = `${hour}${minutes}`;
        unit = 'time';
      }
    }
    if (text !== '1') values.push(text);
    if (unit) {
      const set = units.get(text) ?? new Set<string>();
      set.add(unit);
      units.set(text, set);
    }
  };

  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind === NUM) {
      const prev = toks[i - 1];
      const ordinal = prev?.kind === CJK_CHAR && prev.text === '第' && prev.end === t.start;
      record(t.text, t.start, t.end, i + 1, ordinal);
    } else if (t.kind === WORD) {
      const prev = toks[i - 1];
      const j = i + 1;
      const end = t.end;
      // twenty-one, twenty one, twenty-first
      const tens = CARDINALS.get(t.text);
      if (tens !== undefined && tens >= 20 && tens % 10 === 0) {
        const hyphen = toks[j]?.text === '-' && toks[j]!.start === end ? 1 : 0;
        const unitWord = toks[j + hyphen];
        const u =
          unitWord?.kind === WORD ? (CARDINALS.get(unitWord.text) ?? ORDINALS.get(unitWord.text)) : undefined;
        if (u !== undefined && u < 10 && unitWord!.start - end <= 1) {
          const isOrdinal = ORDINALS.has(unitWord!.text);
          record(tens + u, t.start, unitWord!.end, j + hyphen + 1, isOrdinal);
          i = j + hyphen;
          continue;
        }
      }
      const cardinal = CARDINALS.get(t.text);
      if (cardinal !== undefined) {
        record(cardinal, t.start, end, j, false);
        continue;
      }
      // "a dozen", "a hundred", "a million"
      if ((t.text === 'a' || t.text === 'an') && toks[j]?.kind === WORD && SCALES.has(toks[j]!.text)) {
        record(1, t.start, end, j, false);
        i = j;
        continue;
      }
      const ordinal = ORDINALS.get(t.text);
      if (ordinal !== undefined) {
        if (
          t.text === 'second' &&
          (NOT_ORDINAL_BEFORE.has(prev?.text ?? '') || NOT_ORDINAL_AFTER.has(toks[j]?.text ?? ''))
        )
          continue;
        record(ordinal, t.start, end, j, true);
      }
    } else if (t.kind === CJK_CHAR && (CN_DIGITS[t.text] !== undefined || CN_SCALES[t.text] !== undefined)) {
      let j = i;
      let run = '';
      while (
        j < toks.length &&
        toks[j]!.kind === CJK_CHAR &&
        (CN_DIGITS[toks[j]!.text] !== undefined || CN_SCALES[toks[j]!.text] !== undefined)
      ) {
        run += toks[j]!.text;
        j++;
      }
      const last = toks[j - 1]!;
      i = j - 1;
      const prev = toks[toksIndexBefore(toks, t.start)];
      const ordinal = prev?.kind === CJK_CHAR && prev.text === '第';
      // 十分 (very) is not ten minutes; 十分钟 is.
      if (run === '十' && s.startsWith('分', last.end) && !s.startsWith('分钟', last.end)) continue;
      const value = chineseNumber(run);
      if (value === undefined) continue;
      if (t.start >= 3 && s.startsWith('百分之', t.start - 3)) {
        values.push(`${value}%`);
        continue;
      }
      record(value, t.start, last.end, j, ordinal);
    }
  }
  const mentioned = new Set<string>();
  for (const t of toks) {
    const unit = t.kind === WORD && t.text.length > 1 ? UNITS.get(t.text) : undefined;
    const currency = CURRENCY_BEFORE.get(t.text);
    if (unit) mentioned.add(unit);
    if (currency) mentioned.add(currency);
  }
  for (const set of units.values()) for (const u of set) mentioned.add(u);
  return {
    values: values.sort(),
    units,
    ordinals: [...ordinals].sort(),
    mentioned,
  };
}

/**
 * Ordinals count as values (so "11th class" / "class 11" and "2nd world war" / "world war 2"
 * pass, "second largest" / "largest" does not); when both questions have ordinals, they must
 * be the same ("first" / "second", 第一次 / 第二次).
 */
function ordinalsDiffer(q: Quantities, c: Quantities): boolean {
  return q.ordinals.length > 0 && c.ordinals.length > 0 && !sameList(q.ordinals, c.ordinals);
}

/**
 * A value with one unit here and another there (5 km / 5 miles), where neither question names
 * the other's unit at all: "5 miles to km" / "5 km to miles" is left to the direction guard.
 */
function unitsDiffer(q: Quantities, c: Quantities): boolean {
  for (const [value, qUnits] of q.units) {
    const cUnits = c.units.get(value);
    if (!cUnits) continue;
    for (const u of qUnits) if (!cUnits.has(u) && !c.mentioned.has(u)) return true;
    for (const u of cUnits) if (!qUnits.has(u) && !q.mentioned.has(u)) return true;
  }
  return false;
}

export function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The quantities differ: other values, other ordinals, or one value given other units. */
export function numbersDiffer(q: Quantities, c: Quantities): boolean {
  return !sameList(q.values, c.values) || ordinalsDiffer(q, c) || unitsDiffer(q, c);
}
