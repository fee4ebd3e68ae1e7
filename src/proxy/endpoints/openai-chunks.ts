/**
 * What OpenAI's two chunked streams (chat completions and legacy completions) share: `data:`
 * chunks whose choices arrive as pieces by index, response fields repeated on every chunk, a
 * usage-only chunk (empty `choices`) when usage was asked for, and `data: [DONE]` at the end.
 * Each endpoint says how one choice's piece is merged and how the finished choices look.
 */
import type { SseEvent } from '../sse.js';
import { eventJson, isObject, type Json, type StreamAssembler } from './endpoint.js';

export abstract class ChunkAssembler<Draft> implements StreamAssembler {
  private readonly head: Json = {};
  private readonly drafts = new Map<number, Draft>();
  private usage: unknown = null;
  private done = false;

  constructor(
    /** The `object` of the complete response ('chat.completion', 'text_completion'). */
    private readonly object: string,
  ) {}

  /** A new, empty choice. */
  protected abstract draft(index: number): Draft;
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
    if (!chunk) return 'more';
    if (chunk.error !== undefined) return 'error';
    for (const field of ['id', 'created', 'model', 'system_fingerprint', 'service_tier'])
      if (chunk[field] !== undefined && chunk[field] !== null) this.head[field] = chunk[field];
    if (isObject(chunk.usage)) this.usage = chunk.usage;
    for (const piece of Array.isArray(chunk.choices) ? chunk.choices : []) {
      if (!isObject(piece) || typeof piece.index !== 'number') continue;
      let draft = this.drafts.get(piece.index);
      if (draft === undefined) {
        draft = this.draft(piece.index);
        this.drafts.set(piece.index, draft);
      }
      this.merge(draft, piece);
    }
    return 'more';
  }

  result(): Json | undefined {
    if (!this.done || this.drafts.size === 0) return undefined;
    const choices = [...this.drafts.entries()].sort(([a], [b]) => a - b).map(([i, d]) => this.finish(d, i));
    return { ...this.head, object: this.object, choices, usage: this.usage };
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
