/**
 * What OpenAI's two chunked streams (chat completions and legacy completions) share: `data:`
 * chunks whose choices arrive as pieces by index, response fields repeated on every chunk, a
 * usage-only chunk (empty `choices`) when usage was asked for, and `data: [DONE]` at the end.
 * Each endpoint says how one choice's piece is merged and how the finished choices look.
 *
 * Servers add fields of their own (vLLM's `stop_reason`, Azure's `content_filter_results`,
 * OpenRouter's `provider`), so fields the gateway does not know are kept, by the rules the
 * `openai` SDK's stream helper uses: a string in a delta is a piece of text, anything else the
 * latest value. A piece that fits no rule makes the answer unstorable (see StreamAssembler).
 */
import type { SseEvent } from '../sse.js';
import { eventJson, isObject, type Json, type StreamAssembler } from './endpoint.js';

/** Chunk fields that exist only in streams: OpenAI's `obfuscation` pads chunks against length side channels. */
const STREAM_ONLY = new Set(['object', 'choices', 'obfuscation']);

export abstract class ChunkAssembler<Draft> implements StreamAssembler {
  unstorable: string | undefined;
  private head: Json = {};
  private readonly drafts = new Map<number, Draft>();
  private done = false;
  /** Characters appended so far: a lower bound of the answer's JSON bytes. */
  private bytes = 0;

  constructor(
    /** The `object` of the complete response ('chat.completion', 'text_completion'). */
    private readonly object: string,
    private readonly maxBytes: number,
  ) {}

  /** A new, empty choice. */
  protected abstract draft(): Draft;
  /** Merges one chunk's piece of a choice into its draft. */
  protected abstract merge(draft: Draft, piece: Json): void;
  /** The finished choice, as the non-streaming response has it. */
  protected abstract finish(draft: Draft, index: number): Json;

  push(event: SseEvent): 'more' | 'done' | 'error' {
    if (event.data === '[DONE]') {
      this.done = true;
      return 'done';
    }
    const chunk = eventJson(event.data);
    if (chunk && chunk.error !== undefined && chunk.error !== null) return 'error';
    if (this.unstorable !== undefined) return 'more';
    if (!chunk) {
      this.refuse('an event that is not a JSON object');
      return 'more';
    }
    const fields: Json = {};
    for (const [k, v] of Object.entries(chunk)) if (!STREAM_ONLY.has(k)) fields[k] = v;
    keep(this.head, fields);
    const choices = chunk.choices ?? [];
    if (!Array.isArray(choices)) {
      this.refuse('choices that are not a list');
      return 'more';
    }
    for (const piece of choices) {
      if (!isObject(piece) || typeof piece.index !== 'number') {
        this.refuse('a choice without an index');
        break;
      }
      let draft = this.drafts.get(piece.index);
      if (draft === undefined) {
        draft = this.draft();
        this.drafts.set(piece.index, draft);
      }
      this.merge(draft, piece);
      if (this.unstorable !== undefined) break;
    }
    return 'more';
  }

  result(): Json | undefined {
    if (!this.done || this.unstorable !== undefined || this.drafts.size === 0) return undefined;
    const choices = [...this.drafts.entries()].sort(([a], [b]) => a - b).map(([i, d]) => this.finish(d, i));
    return { id: this.head.id, object: this.object, ...this.head, choices, usage: this.head.usage ?? null };
  }

  /** The answer cannot be stored: what was built is let go, and the stream only followed to its end. */
  protected refuse(why: string): void {
    this.unstorable ??= why;
    this.drafts.clear();
    this.head = {};
  }

  /** Appends `piece` to `into[field]` (text, or a list), counting it against the size bound. */
  protected append(into: Json, field: string, piece: unknown): void {
    if (piece === undefined) return;
    const had = into[field];
    if (piece === null) {
      if (!(field in into)) into[field] = null;
      return;
    }
    if (typeof piece === 'string' && (typeof had === 'string' || had === null || had === undefined)) {
      into[field] = (had ?? '') + piece;
      this.grow(piece.length);
    } else if (Array.isArray(piece) && (Array.isArray(had) || had === null || had === undefined)) {
      // In place: copying the list at every chunk would make a long answer's logprobs quadratic.
      const list: unknown[] = Array.isArray(had) ? had : [];
      for (const item of piece) list.push(item);
      into[field] = list;
      this.grow(JSON.stringify(piece).length);
    } else this.refuse(`a ${field} piece of an unexpected shape`);
  }

  /**
   * Folds a delta's fields the gateway has no rule of its own for: a string is a piece of text, a
   * number or boolean the latest value (as the SDK's helper has it). A list or object that arrives
   * again with another value may be a piece or a new whole, which no rule can tell: unstorable.
   */
  protected fold(into: Json, fields: Json): void {
    for (const [k, v] of Object.entries(fields)) {
      const had = into[k];
      if (typeof v === 'string' || v === null || v === undefined) this.append(into, k, v);
      else if (typeof had === 'string') this.refuse(`a ${k} piece of an unexpected shape`);
      else if (typeof v !== 'object' || had === undefined || had === null) into[k] = v;
      else if (JSON.stringify(had) !== JSON.stringify(v))
        this.refuse(`${k} sent twice with different values`);
      if (this.unstorable !== undefined) return;
    }
  }

  private grow(n: number): void {
    this.bytes += n;
    if (this.bytes > this.maxBytes) this.refuse(`an answer larger than ${this.maxBytes} bytes`);
  }
}

/**
 * Keeps fields that are repeated or updated chunk by chunk: the latest value wins, and null (a
 * chunk saying "nothing new", like `usage: null` before the usage chunk) never replaces a value.
 */
export function keep(into: Json, fields: Json): void {
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (v !== null || !(k in into)) into[k] = v;
  }
}

/** The body sent upstream for a stream, asking for the usage chunk (see `streamUsage`). */
export function askingForUsage(body: Json): Json {
  return {
    ...body,
    stream_options: { ...(isObject(body.stream_options) ? body.stream_options : {}), include_usage: true },
  };
}

/** The usage-only chunk: a client that did not ask for usage must not see it. */
export function isUsageOnlyChunk(event: SseEvent): boolean {
  if (!event.data.includes('"usage"')) return false;
  const chunk = eventJson(event.data);
  return chunk !== undefined && Array.isArray(chunk.choices) && chunk.choices.length === 0;
}

/** Whether the client asked for the usage chunk. */
export function includesUsage(body: Json): boolean {
  return isObject(body.stream_options) && body.stream_options.include_usage === true;
}

/** The fields every chunk of a replay repeats: the response's own, but for its choices and usage. */
export function chunkHead(response: Json, object: string): Json {
  const head: Json = { id: response.id, object };
  for (const [k, v] of Object.entries(response))
    if (k !== 'choices' && k !== 'usage' && k !== 'object') head[k] = v;
  return head;
}

/** A complete response of one of these endpoints: its `object`, and at least one choice, each valid. */
export function isChoicesResponse(
  value: unknown,
  object: string,
  validChoice: (c: Json) => boolean,
): value is Json {
  return (
    isObject(value) &&
    value.object === object &&
    Array.isArray(value.choices) &&
    value.choices.length > 0 &&
    value.choices.every((c) => isObject(c) && validChoice(c))
  );
}
