/**
 * Unicode hygiene of the semantic tier: what of a question is invisible, and which compatibility
 * forms may be folded into plain text before embedding, guarding or tokenizing.
 *
 * Invisible characters. Unicode tag characters (U+E0020-E007F) spell ASCII that no screen shows
 * but that a model reads: "What is the capital of France?" followed by tags spelling an
 * instruction embeds exactly like the clean question (every embedder drops them), so without
 * care a victim asking the clean question got the attacker's answer at similarity 1.000. Other
 * format and default-ignorable characters (zero-width space / joiners, word joiner, BOM, soft
 * hyphen, bidi controls, interlinear annotation, variation selectors, Hangul fillers) and control
 * characters can carry hidden text too (zero-width steganography, Trojan Source reordering,
 * bytes smuggled in variation selectors). So the tier (index.ts) never embeds them and never lets
 * them go unnoticed:
 *
 * - A question with a tag character is not matched by similarity at all (`tag-characters`):
 *   tags have no legitimate use in a question besides emoji subdivision flags (🏴 + a tag
 *   spelling gbsct + cancel tag), which are accepted like the characters below.
 * - Every other invisible character is removed from the question that is embedded and compared,
 *   and recorded, with the visible character it follows, in the exact part of the request (the
 *   context, compared by digest). Two requests then match by similarity only if their questions
 *   carry the same invisible characters after the same visible characters, in the same order: a
 *   clean question never meets a poisoned one, in either direction. Anchoring each run to the
 *   character before it rather than to its offset keeps legitimate uses matchable: two
 *   paraphrases that both mention 👨‍👩‍👧 (whose zero-width joiners follow 👨 and 👩), or both
 *   write 葛󠄀 with the same ideographic variation selector, or start with the same BOM, still match
 *   each other; they only miss the same text written without them (a miss costs an LLM call,
 *   a wrong hit serves someone else's answer).
 *
 * Compatibility forms. NFKC folds characters into "compatible" plain ones, and for many of them
 * that changes the meaning: 10² became 102, 2³ 23, 3ⁿ=81 3n=81, 1½ 11⁄2, ①② 12, 10₂ (binary two)
 * 102, ℝ R, ㎡ m2, each a wrong hit at similarity 1.000. So text is NFC-normalized (canonical
 * equivalents only, which by Unicode's definition mean the same) and only the classes listed in
 * FOLDED are folded, each because the folded character is the same letter, digit or punctuation
 * drawn differently: width forms (ＡＢＣ, halfwidth ｶﾀｶﾅ), typographic ligatures and digraphs
 * (ﬁ, Ĳ, Ǆ), presentation forms (Arabic positional forms, vertical and small punctuation),
 * space variants, µ, ſ, ℃ / ℉, multiple primes and dot leaders, Kangxi radicals (ideographs in
 * PDF text). Never folded: superscripts and subscripts (10², H₂O, xⁿ, ™), fractions (½),
 * enclosed numbers and letters (①, ⑴, ⒈, Ⓐ), mathematical and letterlike font variants (𝐱, ℝ,
 * ϕ), Roman numerals (ⅰⅱ would read iii), squared units (㎡), and everything else NFKC would
 * change. H₂O therefore does not match H2O: the same fold would make 10₂ match 102.
 * Where a vocabulary has no piece for such a character (multilingual-e5 was trained on NFKC text)
 * spellCompatibility writes it out distinctly instead (10² as 10^2, H₂O as H_2O, ½ as 1/2, ① as
 * (1)), and the guards read those spellings too.
 */

/**
 * Invisible: format characters (Cf), default-ignorable code points (variation selectors, Hangul
 * fillers, the combining grapheme joiner ...) and control characters other than tab and line breaks.
 */
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]|(?![\t-\r\u0085])\p{Cc}/u;
const INVISIBLES = new RegExp(INVISIBLE.source, 'gu');
const TAG = /[\u{E0000}-\u{E007F}]/u;
const BLACK_FLAG = '\u{1F3F4}';
const CANCEL_TAG = '\u{E007F}';
/** The tag letters of an emoji subdivision flag: a region's two letters and one to four more (gbsct, usca). */
const FLAG_TAGS = /^[\u{E0061}-\u{E007A}]{2}[\u{E0061}-\u{E007A}\u{E0030}-\u{E0039}]{1,4}$/u;

export interface SeparatedText {
  /** The text without its invisible characters: what is embedded, guarded and stored as the question. */
  readonly visible: string;
  /**
   * Each run of invisible characters with the visible character before it ('' at the start), in
   * order, as JSON; '' when the text has none.
   */
  readonly invisible: string;
  /** Tag characters outside an emoji flag: hidden text, never matched by similarity. */
  readonly tagged: boolean;
}

export function hasInvisible(text: string): boolean {
  return INVISIBLE.test(text);
}

/** The text with every invisible character removed. */
export function withoutInvisible(text: string): string {
  return text.replace(INVISIBLES, '');
}

/** Splits a question into what it shows and the invisible characters it carries (see above). */
export function separateInvisible(text: string): SeparatedText {
  if (!INVISIBLE.test(text)) return { visible: text, invisible: '', tagged: false };
  const chars = [...text];
  const runs: Array<[string, string]> = [];
  let visible = '';
  let anchor = '';
  let run = '';
  let tagged = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (TAG.test(c)) {
      const length = anchor === BLACK_FLAG && run === '' ? flagLength(chars, i) : 0;
      if (length === 0) tagged = true;
      run += length === 0 ? c : chars.slice(i, i + length).join('');
      i += Math.max(0, length - 1);
    } else if (INVISIBLE.test(c)) {
      run += c;
    } else {
      if (run) runs.push([anchor, run]);
      run = '';
      visible += c;
      anchor = c;
    }
  }
  if (run) runs.push([anchor, run]);
  return { visible, invisible: runs.length > 0 ? JSON.stringify(runs) : '', tagged };
}

/** The length of the emoji flag tag sequence (tag letters and the cancel tag) at `i`, or 0. */
function flagLength(chars: string[], i: number): number {
  const end = chars.indexOf(CANCEL_TAG, i);
  if (end < 0 || end - i > 6) return 0;
  return FLAG_TAGS.test(chars.slice(i, end).join('')) ? end - i + 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Compatibility forms

/** What is folded (to its NFKC form): the same character drawn differently. Everything else NFKC would change is kept. */
const FOLDED_CLASS =
  '[' +
  // space variants (no-break, en, em, thin, ideographic ...)
  '\\u00a0\\u2000-\\u200a\\u202f\\u205f\\u3000' +
  // micro sign, long s, degree Celsius / Fahrenheit
  '\\u00b5\\u017f\\u1e9b\\u2103\\u2109' +
  // typographic ligatures and digraphs
  '\\u0132\\u0133\\u013f\\u0140\\u01c4-\\u01cc\\u01f1-\\u01f3\\u0587\\ufb00-\\ufb06\\ufb13-\\ufb17' +
  // punctuation: non-breaking hyphen, dot leaders and ellipsis, multiple primes, doubled ?! marks
  '\\u2011\\u2024-\\u2026\\u2033\\u2034\\u2036\\u2037\\u2057\\u203c\\u2047-\\u2049' +
  // Kangxi and CJK radicals (the ideograph itself, as PDF text often has it)
  '\\u2e9f\\u2ef3\\u2f00-\\u2fd5' +
  // presentation forms: Hebrew, Arabic, vertical, CJK compatibility and small punctuation
  '\\ufb1d-\\ufb4f\\ufb50-\\ufdff\\ufe10-\\ufe19\\ufe30-\\ufe6b\\ufe70-\\ufefe' +
  // fullwidth ASCII, halfwidth katakana and Hangul, fullwidth signs
  '\\uff01-\\uffee' +
  ']';
const FOLDED = new RegExp(FOLDED_CLASS, 'gu');
const FOLDED_CHAR = new RegExp(`^${FOLDED_CLASS}$`, 'u');

/** Whether NFKC folds this character in a way this module allows (see FOLDED). */
export function isSafeFold(char: string): boolean {
  return FOLDED_CHAR.test(char);
}

/**
 * NFC, then the explicit safe folds (width, ligatures, presentation forms ...): never a fold that
 * changes meaning, as NFKC's superscripts, subscripts, fractions or enclosed numbers do.
 */
export function foldCompatibility(text: string): string {
  return text
    .normalize('NFC')
    .replace(FOLDED, (c) => c.normalize('NFKC'))
    .normalize('NFC');
}

const SUPERSCRIPTS =
  '\\u00aa\\u00b2\\u00b3\\u00b9\\u00ba\\u02b0-\\u02b8\\u02e0-\\u02e4\\u1d2c-\\u1d61\\u1d78\\u1d9b-\\u1dbf' +
  '\\u2070\\u2071\\u2074-\\u207f\\u2120\\u2122\\u2c7d\\u3192-\\u319f\\ua69c\\ua69d\\ua770\\ua7f2-\\ua7f4' +
  '\\ua7f8\\ua7f9\\uab5c-\\uab5f\\uab69\\u{10780}-\\u{107ba}\\u{1f16a}-\\u{1f16c}';
const SUBSCRIPTS = '\\u1d62-\\u1d6a\\u2080-\\u208e\\u2090-\\u209c\\u2c7c';
const FRACTIONS = '\\u00bc-\\u00be\\u2150-\\u215f\\u2189';
const ENCLOSED = '\\u2460-\\u24ff\\u3200-\\u32ff\\u{1f100}-\\u{1f2ff}';
/**
 * A run of superscripts, subscripts, fractions or enclosed forms (a regular expression's source):
 * the guards compare these exactly, as symbols, since models that fold them (multilingual-e5
 * scores 3ⁿ=81 / 3n=81 at 0.983) would otherwise let them pass unnoticed.
 */
export const MEANINGFUL_FORMS = `[${SUPERSCRIPTS}${SUBSCRIPTS}${FRACTIONS}${ENCLOSED}]+`;
const SPELLED = new RegExp(`([${SUPERSCRIPTS}]+)|([${SUBSCRIPTS}]+)|([${FRACTIONS}])|([${ENCLOSED}])`, 'gu');

/**
 * Superscripts, subscripts, fractions and enclosed numbers and letters written out in plain
 * characters that keep them apart from the plain text NFKC would fold them into: 10² as 10^2,
 * xⁿ as x^n, H₂O as H_2O, 1½ as 1 1/2, ① and ⑴ as (1). For a tokenizer whose vocabulary lacks
 * them, and for the guards, which then read ^2 as a quantity of its own.
 */
export function spellCompatibility(text: string): string {
  return text.replace(
    SPELLED,
    (
      m: string,
      sup: string | undefined,
      sub: string | undefined,
      fraction: string | undefined,
      _enclosed: string | undefined,
      offset: number,
    ) => {
      const plain = m.normalize('NFKC');
      if (plain === m) return m; // no compatibility form (❶, an unassigned code point)
      if (sup) return `^${plain}`;
      if (sub) return `_${plain}`;
      if (fraction) return `${/\d/.test(text[offset - 1] ?? '') ? ' ' : ''}${plain.replace('\u2044', '/')}`;
      return plain.startsWith('(') || plain.startsWith('\u3014') ? plain : `(${plain})`;
    },
  );
}
