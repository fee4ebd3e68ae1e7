/**
 * Answers decoded once per payload. A hit's payload is parsed and checked the first time it is
 * read; every caller then gets a fresh deep copy of that decoded template (copying a small JSON
 * tree costs about a quarter of parsing it again), so callers still never share a mutable object.
 *
 * Keyed by the payload string itself: a memory tier hands back the same string object on every
 * hit (its hash is computed once), and a network tier's fresh string of the same bytes finds the
 * same template after one hash and compare. Bounded in bytes; large payloads are decoded every
 * time and never kept.
 */
import { type Answer, decodeAnswer } from './entry.js';

interface Template {
  readonly answer: Answer;
  /** The llm string the answer was found usable for (the key hash check pins it per payload). */
  usableFor?: string;
}

export const DECODED_MAX_BYTES = 8 * 1024 * 1024;
export const DECODED_MAX_PAYLOAD = 64 * 1024;

export class DecodedAnswers {
  private readonly templates = new Map<string, Template>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = DECODED_MAX_BYTES,
    private readonly maxPayload = DECODED_MAX_PAYLOAD,
  ) {}

  /** The decoded answer in a payload, shared: never hand it out, copy it (`copyAnswer`). */
  template(payload: string): Template | undefined {
    const known = this.templates.get(payload);
    if (known !== undefined) return known;
    const answer = decodeAnswer(payload);
    if (answer === undefined) return undefined;
    const template: Template = { answer };
    if (payload.length <= this.maxPayload) {
      this.templates.set(payload, template);
      this.bytes += payload.length;
      // Oldest first (insertion order): a working set larger than the budget just decodes more.
      for (const [p] of this.templates) {
        if (this.bytes <= this.maxBytes) break;
        this.templates.delete(p);
        this.bytes -= p.length;
      }
    }
    return template;
  }

  clear(): void {
    this.templates.clear();
    this.bytes = 0;
  }
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
