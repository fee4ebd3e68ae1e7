/**
 * Answers decoded once per payload. A hit's payload is parsed and checked the first time it is
 * read; every caller then gets a fresh deep copy of that decoded template (copying a small JSON
 * tree costs about a quarter of parsing it again), so callers still never share a mutable object.
 *
 * Found by key hash, then confirmed by comparing the whole payload: a template is only ever used
 * for exactly the bytes it was decoded from. The key hash is short and already computed, so the
 * lookup is cheap for every tier: a memory tier hands back the same string object (the compare is
 * one pointer check), and a network tier's fresh string of the same bytes costs one memcmp,
 * never a hash of the whole payload (that cost about what parsing it did). A key whose payload
 * changed (a new answer stored) gets a new template. Bounded in bytes; large payloads are decoded
 * every time and never kept.
 */
import { type Answer, decodeAnswer } from './entry.js';

interface Template {
  /** The bytes the answer was decoded from. */
  readonly payload: string;
  readonly answer: Answer;
  /** The llm string the answer was found usable for (the key hash check pins it per payload). */
  usableFor?: string;
}

export const DECODED_MAX_BYTES = 8 * 1024 * 1024;
export const DECODED_MAX_PAYLOAD = 64 * 1024;

export class DecodedAnswers {
  /** By key hash, oldest first (insertion order). */
  private readonly templates = new Map<string, Template>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = DECODED_MAX_BYTES,
    private readonly maxPayload = DECODED_MAX_PAYLOAD,
  ) {}

  /** The decoded answer in `payload`, read for key `hash`, shared: never hand it out, copy it (`copyAnswer`). */
  template(hash: string, payload: string): Template | undefined {
    const known = this.templates.get(hash);
    if (known !== undefined && known.payload === payload) return known;
    const answer = decodeAnswer(payload);
    if (answer === undefined) return undefined;
    // Handed out as it is to callers that only read (LookupOptions.shared): frozen, so that a
    // change by mistake throws instead of reaching every later hit.
    deepFreeze(answer);
    const template: Template = { payload, answer };
    if (payload.length > this.maxPayload) return template;
    if (known !== undefined) {
      this.templates.delete(hash);
      this.bytes -= known.payload.length;
    }
    this.templates.set(hash, template);
    this.bytes += payload.length;
    // A working set larger than the budget just decodes more.
    for (const [oldest, t] of this.templates) {
      if (this.bytes <= this.maxBytes) break;
      this.templates.delete(oldest);
      this.bytes -= t.payload.length;
    }
    return template;
  }

  clear(): void {
    this.templates.clear();
    this.bytes = 0;
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}

/** A fresh deep copy of an answer: what one caller may keep and change. */
export function copyAnswer(answer: Answer): Answer {
  return {
    v: answer.v,
    k: answer.k,
    ns: answer.ns,
    createdAt: answer.createdAt,
    expiresAt: answer.expiresAt,
    tags: [...answer.tags],
    ...(answer.meta === undefined ? {} : { meta: copyJson(answer.meta) as Record<string, unknown> }),
    gens: copyJson(answer.gens) as Answer['gens'],
  };
}

/** Deep copy of a JSON value (what JSON.parse made: plain objects, arrays, primitives). */
export function copyJson(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i]);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) {
    const v = copyJson((value as Record<string, unknown>)[k]);
    // JSON.parse makes `__proto__` an own property; an assignment would set the prototype instead.
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}
