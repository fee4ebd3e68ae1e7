/**
 * The inputs of one OpenAI `POST /v1/embeddings` request, one by one. `input` is a string, an
 * array of strings, an array of token ids (one input) or an array of such arrays; anything else
 * is refused here with a 400 that says what is wrong, before any lookup or upstream call.
 */
import { RequestError } from '../../errors.js';
import { canonicalJson } from '../endpoints/endpoint.js';

/** One input: its text, or its token ids. */
export type Item = string | readonly number[];

/** How the request wrote its input, so a subset of it is sent upstream in the same form. */
export type InputForm = 'string' | 'strings' | 'tokens' | 'token-lists';

/** OpenAI's limit on inputs per request (the API refuses more, so a larger batch is the client's to split). */
export const MAX_ITEMS = 2048;

export interface Inputs {
  readonly form: InputForm;
  readonly items: readonly Item[];
}

/** The request's inputs, in order; a RequestError (400) for a value that is none of the four forms. */
export function inputsOf(input: unknown): Inputs {
  if (typeof input === 'string') return { form: 'string', items: [input] };
  if (!Array.isArray(input)) throw invalid(`must be a string or an array (got ${kind(input)})`);
  if (input.length === 0) throw invalid('must not be an empty array');
  if (input.length > MAX_ITEMS)
    throw invalid(`holds ${input.length} inputs, more than the ${MAX_ITEMS} one request may carry`);
  const first = input[0];
  if (typeof first === 'string') {
    input.forEach((v, i) => {
      if (typeof v !== 'string') throw invalid(`[${i}] must be a string like input[0] (got ${kind(v)})`);
    });
    return { form: 'strings', items: input as string[] };
  }
  if (typeof first === 'number') {
    tokens(input, '');
    return { form: 'tokens', items: [input as number[]] };
  }
  if (Array.isArray(first)) {
    input.forEach((v, i) => {
      if (!Array.isArray(v))
        throw invalid(`[${i}] must be an array of token ids like input[0] (got ${kind(v)})`);
      tokens(v, `[${i}]`);
    });
    return { form: 'token-lists', items: input as number[][] };
  }
  throw invalid(`[0] must be a string, a token id or an array of token ids (got ${kind(first)})`);
}

/** The `input` to send for these items, in the request's own form. */
export function inputFor(form: InputForm, items: readonly Item[]): unknown {
  if ((form === 'string' || form === 'tokens') && items.length === 1) return items[0];
  return items;
}

/** The item as the key sees it: a string and a token list never share a text. */
export function itemText(item: Item): string {
  return canonicalJson(item);
}

/**
 * What an item weighs when a batch's billed tokens are shared out among its inputs: its token
 * count for a token list (exact), its UTF-8 length for a string (a proxy: tokens grow with it).
 */
export function weightOf(item: Item): number {
  return Math.max(1, typeof item === 'string' ? Buffer.byteLength(item, 'utf8') : item.length);
}

/**
 * `total` shared out in proportion to `weights`, in whole numbers that add up to it exactly
 * (largest remainder): what each input is recorded as having cost.
 */
export function shareOut(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const shares = exact.map(Math.floor);
  let left = total - shares.reduce((a, b) => a + b, 0);
  const order = exact
    .map((x, i) => [x - Math.floor(x), i] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    shares[i]!++;
    left--;
  }
  return shares;
}

function tokens(list: readonly unknown[], at: string): void {
  if (list.length === 0) throw invalid(`${at} must not be an empty array of token ids`); // at: never '' here
  list.forEach((t, i) => {
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0)
      throw invalid(`${at}[${i}] must be a token id, a whole number of 0 or more (got ${kind(t)})`);
  });
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? `${value}` : 'a fractional number';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function invalid(what: string): RequestError {
  return new RequestError(`input${what.startsWith('[') ? '' : ': '}${what}`, 'STRATA_REQUEST_INVALID');
}
