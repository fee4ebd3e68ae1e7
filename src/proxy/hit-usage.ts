/**
 * What a hit says it cost. A hit makes no upstream call, so under `hitUsage: "zero"` (the
 * default) its `usage` reports zero billed tokens: an application or tool that sums `usage`
 * across its calls (spend dashboards, budgets, LangChain's callbacks) then counts only what the
 * upstream billed. The stored counts are not lost: beside every `usage` that was rewritten sits
 * `strata: { cache: "hit", usage: <the counts as stored> }`. Under `"original"` a hit is sent
 * exactly as stored.
 *
 * Every number under `usage` is a billed quantity in every shape the cached endpoints use (chat,
 * completions and embeddings `prompt_tokens` / `completion_tokens` / `total_tokens` and their
 * `*_details`; Responses `input_tokens` / `output_tokens` / `total_tokens` and their details;
 * Anthropic `input_tokens`, `output_tokens`, `cache_creation_input_tokens`,
 * `cache_read_input_tokens`, `cache_creation.*`, `server_tool_use.*`), so every number is zeroed
 * wherever it is nested, and anything else (`service_tier`, nulls) is kept: a shape a provider
 * adds later is covered too. The keys stay, so a client that reads `usage.prompt_tokens` gets 0,
 * not undefined.
 *
 * Streams: the usage lives in the usage chunk (chat, completions), in `response.completed`'s
 * response (Responses), and in `message_start`'s message and `message_delta` (Messages). A replay
 * and the live events a coalesced follower receives are rewritten event by event, so the SDKs'
 * stream helpers (`finalChatCompletion()`, `finalResponse()`, `finalMessage()`) assemble the
 * zeroed usage. In a replay, `strata.usage` is the whole stored usage on every event that carries
 * usage (so the message `finalMessage()` assembles from `message_start` has all of it, not
 * message_start's zero output); in a live stream it is what that event said. The gateway's and
 * the library's savings read the stored response, never this view.
 *
 * This module leaves `id` and `created` as stored: see `hitUsage` in the README.
 */
import { isObject, type Json } from './endpoints/endpoint.js';

export type HitUsage = 'zero' | 'original';

/** The field beside a rewritten `usage` that holds the counts as stored. */
export const STRATA_FIELD = 'strata';

/** The usage object with every number in it (at any depth) zero, everything else as it was. */
export function zeroUsage(value: unknown): unknown {
  if (typeof value === 'number') return 0;
  if (Array.isArray(value)) return value.map(zeroUsage);
  if (!isObject(value)) return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) out[k] = zeroUsage(v);
  return out;
}

/**
 * An object holding `usage` (a response, a usage chunk, a `message_delta`) as a hit shows it:
 * usage zeroed, `stored` (default: its own usage) under `strata`. Unchanged without a usage object.
 */
export function hitObject(value: Json, stored: unknown = value.usage): Json {
  if (!isObject(value.usage)) return value;
  return { ...value, usage: zeroUsage(value.usage), [STRATA_FIELD]: { cache: 'hit', usage: stored } };
}

/** Where the stream events of the cached endpoints carry usage: on the event, or on its message or response. */
const NESTED = ['message', 'response'] as const;

/** One event's JSON as a hit shows it; undefined when it carries no usage object. */
function hitEventData(data: Json, stored: unknown): Json | undefined {
  if (isObject(data.usage)) return hitObject(data, stored ?? data.usage);
  for (const field of NESTED) {
    const inner = data[field];
    if (isObject(inner) && isObject(inner.usage))
      return { ...data, [field]: hitObject(inner, stored ?? inner.usage) };
  }
  return undefined;
}

/**
 * One SSE event (as `formatEvent` writes it, or as the upstream sent it: `event:`, `data:` and
 * other lines, ending in a blank line) with its usage rewritten for a hit; `stored`: the stored
 * response's usage, for a replay (else the event's own usage goes under `strata`). An event
 * without usage is returned as it is, byte for byte; so is one whose data is not JSON.
 */
export function hitEvent(raw: string, stored?: unknown): string {
  // Cheap test first: nearly every event (text deltas) has no usage at all.
  if (!raw.includes('"usage"')) return raw;
  const lines = raw.replace(/\n+$/, '').split('\n');
  const dataLines = lines.filter((l) => l.startsWith('data:'));
  if (dataLines.length === 0) return raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(dataLines.map((l) => l.slice(l.startsWith('data: ') ? 6 : 5)).join('\n'));
  } catch {
    return raw;
  }
  if (!isObject(parsed)) return raw;
  const rewritten = hitEventData(parsed, stored);
  if (!rewritten) return raw;
  // The data lines become one, where the first one was; `event:` and any other line keep their place.
  const out: string[] = [];
  let placed = false;
  for (const line of lines) {
    if (!line.startsWith('data:')) out.push(line);
    else if (!placed) {
      out.push(`data: ${JSON.stringify(rewritten)}`);
      placed = true;
    }
  }
  return `${out.join('\n')}\n\n`;
}
