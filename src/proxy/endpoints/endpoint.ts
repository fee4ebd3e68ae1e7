/**
 * What the gateway knows about one cached endpoint: which request fields decide the answer, what
 * a complete response looks like, how a stream assembles into one, and how a stored response is
 * replayed as the endpoint's own events. One module per endpoint beside this one; the gateway
 * (../gateway.ts and its stages) knows them only through this interface.
 */
import type { TokenUsage } from '../../core/entry.js';
import { RequestError } from '../../errors.js';
import type { SseEvent } from '../sse.js';

export type ApiKind = 'openai' | 'anthropic';

export type Json = Record<string, unknown>;

/** A request as the cache sees it. */
export interface CanonicalRequest {
  readonly model: string;
  /**
   * Every field that can change the answer, as canonical JSON (sorted keys), with the
   * conversation last so that the question a semantic tier compares is its final text.
   */
  readonly prompt: string;
  /** The final user text, for a similarity tier; '' when the request has none (exact only). */
  readonly question: string;
  readonly stream: boolean;
  /** The client asked for the usage chunk at the end of a stream (OpenAI's stream_options). */
  readonly includeUsage: boolean;
  /** Why this request is never cached (server-side state, a background job), if it is not. */
  readonly bypass?: string;
}

/**
 * Builds one complete response out of a stream's events. Stored whole or not at all: an event it
 * cannot fold into the response faithfully (an unknown delta type, a value of an unexpected
 * shape) does not stop the stream, which clients still receive as it is, but sets `unstorable`.
 */
export interface StreamAssembler {
  /** 'done': the stream completed normally; 'error': the upstream reported an error in-stream. */
  push(event: SseEvent): 'more' | 'done' | 'error';
  /** The assembled response; only meaningful after 'done'. */
  result(): Json | undefined;
  /** Why the assembled response must not be stored, once it must not; undefined while it may. */
  readonly unstorable: string | undefined;
}

export interface Endpoint {
  readonly path: string;
  /** Label in metrics and logs ('chat.completions', 'messages', ...). */
  readonly label: string;
  readonly api: ApiKind;
  /** The request headers that are part of its key: the only ones `canonical` is given. */
  readonly keyHeaders?: readonly string[];
  /** Throws a RequestError for a body this endpoint cannot take (no model, not an object). */
  canonical(body: Json, headers: Readonly<Record<string, string | undefined>>): CanonicalRequest;
  /** Whether a value is a complete response (what may be stored and replayed). */
  isResponse(value: unknown): value is Json;
  usage(response: Json): TokenUsage | undefined;
  /** The answer's text, for inspection and search. */
  text(response: Json): string;
  /**
   * Undefined for an endpoint that never streams (embeddings). Past `maxBytes` of assembled text
   * the assembler lets go of what it built (the answer is too large to store) and only follows the
   * stream to its end.
   */
  assembler?(maxBytes: number): StreamAssembler;
  /** A stored response as the SSE the endpoint would have streamed. */
  replay?(response: Json, options: { includeUsage: boolean }): string[];
  /** The body sent upstream for a streamed miss, when it differs (to ask for usage). */
  streamBody?(body: Json): Json;
  /** An upstream event a client that did not ask for usage must not see (the usage-only chunk). */
  usageOnly?(event: SseEvent): boolean;
  /**
   * Whether an upstream event carries any of the answer (lead-in.ts). Undefined: every event does.
   * Events before the first that does are held back while a stale answer may stand in (tee.ts).
   */
  carriesAnswer?(event: SseEvent): boolean;
  /**
   * A response that echoes its request (the Responses object): what of it may be stored (no
   * credential it echoes, none of the fields the key leaves out), and what a hit is sent as for
   * this request (its own values of those fields).
   */
  echo?: {
    stored(response: Json): Json;
    forRequest(response: Json, body: Json): Json;
    /** The request's values of those fields, as one string (equal strings: equal echoes). */
    signature(body: Json): string;
  };
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON with object keys sorted at every depth: two requests that differ only in key order are one.
 * The same text as `JSON.stringify` of a key-sorted copy (what it was), written directly: no copy
 * of the request, and a string with nothing to escape, most of a long prompt, is joined as it is
 * instead of being scanned and copied by `JSON.stringify` (2.5x faster on an 8 MiB prompt).
 */
export function canonicalJson(value: unknown): string {
  return canonical(value) as string;
}

/** Characters `JSON.stringify` escapes in a string (quote, backslash, controls, lone surrogates). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters JSON escapes
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

function quoted(text: string): string {
  return ESCAPED.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** Undefined where `JSON.stringify` leaves a value out (undefined, a function). */
function canonical(value: unknown): string | undefined {
  if (typeof value === 'string') return quoted(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += `${i === 0 ? '' : ','}${canonical(value[i]) ?? 'null'}`;
    return `${out}]`;
  }
  if (isObject(value)) {
    let out = '';
    // Own keys only, read as data: a `__proto__` key in the request is part of the key.
    for (const k of Object.keys(value).sort()) {
      const v = value[k] === undefined ? undefined : canonical(value[k]);
      if (v !== undefined) out += `${out === '' ? '' : ','}${quoted(k)}:${v}`;
    }
    return `{${out}}`;
  }
  return JSON.stringify(value);
}

/**
 * The request's prompt for the key: the answer-deciding fields (everything but `ignored` and the
 * conversation) and then the conversation, each canonical, on two lines.
 */
export function promptOf(
  body: Json,
  conversationField: string,
  ignored: ReadonlySet<string>,
  extra: Json = {},
): string {
  const params: Json = Object.assign(Object.create(null), extra);
  for (const [k, v] of Object.entries(body)) if (!ignored.has(k) && k !== conversationField) params[k] = v;
  return `${canonicalJson(params)}\n${canonicalJson(body[conversationField] ?? null)}`;
}

export function requireModel(body: Json): string {
  if (typeof body.model !== 'string' || body.model.length === 0)
    throw new RequestError('model: must be a non-empty string', 'STRATA_REQUEST_NO_MODEL');
  return body.model;
}

/** The text of a message's content when it is all text (a string, or text parts): the last part. */
export function finalText(content: unknown, textTypes: readonly string[]): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content) || content.length === 0) return '';
  if (
    !content.every((p) => isObject(p) && textTypes.includes(p.type as string) && typeof p.text === 'string')
  )
    return '';
  return (content.at(-1) as { text: string }).text;
}

export function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Token usage from a response's usage object, whichever names its API uses. */
export function usageFrom(usage: unknown, input: string, output: string): TokenUsage | undefined {
  if (!isObject(usage)) return undefined;
  const inputTokens = count(usage[input]);
  const outputTokens = count(usage[output]) ?? 0;
  if (inputTokens === undefined) return undefined;
  return { inputTokens, outputTokens, totalTokens: count(usage.total_tokens) ?? inputTokens + outputTokens };
}

/** Parses an event's JSON data; undefined when it is not a JSON object. */
export function eventJson(data: string): Json | undefined {
  try {
    const parsed: unknown = JSON.parse(data);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Fields no OpenAI endpoint's answer depends on: transport, attribution and server-side bookkeeping. */
export const OPENAI_IGNORED = new Set([
  'stream',
  'stream_options',
  'user',
  'safety_identifier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'metadata',
  'store',
  'service_tier',
  'cache',
]);
