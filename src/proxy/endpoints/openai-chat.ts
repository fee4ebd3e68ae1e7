/**
 * OpenAI `POST /v1/chat/completions`. A stream is `data:` chunks of `chat.completion.chunk`
 * ending in `data: [DONE]`; choices arrive as deltas by index, tool calls as deltas by their own
 * index (id and name once, arguments in pieces), a legacy `function_call` likewise, reasoning
 * (`reasoning_content`, `reasoning`) and any other text field as pieces of text. Stored: the
 * `chat.completion` the same request without `stream` returns, so a streamed and a non-streamed
 * request share one entry.
 */

import { RequestError } from '../../errors.js';
import { formatEvent } from '../sse.js';
import {
  type CanonicalRequest,
  type Endpoint,
  finalText,
  isObject,
  type Json,
  OPENAI_IGNORED,
  promptOf,
  requireModel,
  usageFrom,
} from './endpoint.js';
import { chatChunkCarriesAnswer } from './lead-in.js';
import {
  askingForUsage,
  ChunkAssembler,
  chunkHead,
  includesUsage,
  isChoicesResponse,
  isUsageOnlyChunk,
  keep,
} from './openai-chunks.js';

export const openaiChat: Endpoint = {
  path: '/v1/chat/completions',
  label: 'chat.completions',
  api: 'openai',
  canonical(body): CanonicalRequest {
    const model = requireModel(body);
    if (!Array.isArray(body.messages))
      throw new RequestError('messages: must be an array', 'STRATA_REQUEST_NO_MESSAGES');
    const last = body.messages.at(-1) as Json | undefined;
    const question = isObject(last) && last.role === 'user' ? finalText(last.content, ['text']) : '';
    return {
      model,
      prompt: promptOf(body, 'messages', OPENAI_IGNORED),
      question,
      stream: body.stream === true,
      includeUsage: includesUsage(body),
    };
  },
  isResponse: (value): value is Json =>
    isChoicesResponse(
      value,
      'chat.completion',
      (c) => isObject(c.message) && typeof c.finish_reason === 'string',
    ),
  usage: (response) => usageFrom(response.usage, 'prompt_tokens', 'completion_tokens'),
  text: (response) =>
    (response.choices as Json[])
      .map((c) => (c.message as Json).content)
      .filter((t) => typeof t === 'string')
      .join('\n'),
  assembler: (maxBytes) => new ChatAssembler(maxBytes),
  replay: replayChat,
  streamBody: askingForUsage,
  usageOnly: isUsageOnlyChunk,
  carriesAnswer: chatChunkCarriesAnswer,
};

interface ChoiceDraft {
  /** The choice's own fields: finish_reason and whatever else a server adds (vLLM's stop_reason). */
  readonly choice: Json;
  /** role, content, refusal and every delta field without a rule of its own (reasoning_content, ...). */
  readonly message: Json;
  logprobs: Json | null;
  readonly toolCalls: Map<number, ToolCallDraft>;
  /** The legacy `functions` answer: one call, its name once, its arguments in pieces. */
  functionCall: Json | undefined;
  audio: Json | undefined;
}

interface ToolCallDraft {
  /** id and whatever else a server adds to a call. */
  readonly fields: Json;
  /** name, arguments and whatever else a server adds to a call's function. */
  readonly function: Json;
}

class ChatAssembler extends ChunkAssembler<ChoiceDraft> {
  constructor(maxBytes: number) {
    super('chat.completion', maxBytes);
  }

  protected draft(): ChoiceDraft {
    return {
      choice: { finish_reason: null },
      message: { role: 'assistant', content: null, refusal: null },
      logprobs: null,
      toolCalls: new Map(),
      functionCall: undefined,
      audio: undefined,
    };
  }

  protected merge(draft: ChoiceDraft, piece: Json): void {
    const { index: _, delta, logprobs, ...choice } = piece;
    keep(draft.choice, choice);
    if (logprobs !== undefined && logprobs !== null) {
      if (!isObject(logprobs)) {
        this.refuse('logprobs that are not an object');
        return;
      }
      draft.logprobs ??= {};
      for (const [k, v] of Object.entries(logprobs)) this.append(draft.logprobs, k, v);
    }
    if (delta === undefined || delta === null) return;
    if (!isObject(delta)) {
      this.refuse('a delta that is not an object');
      return;
    }
    const { role, content, refusal, tool_calls, function_call, audio, ...rest } = delta;
    // Some servers repeat the role on every delta: it is a value, not a piece of text.
    if (typeof role === 'string') draft.message.role = role;
    this.append(draft.message, 'content', content);
    this.append(draft.message, 'refusal', refusal);
    this.fold(draft.message, rest);
    if (tool_calls !== undefined && tool_calls !== null) {
      if (!Array.isArray(tool_calls)) {
        this.refuse('tool_calls that are not a list');
        return;
      }
      for (const t of tool_calls) this.toolCall(draft, t);
    }
    if (function_call !== undefined && function_call !== null) {
      if (!isObject(function_call)) {
        this.refuse('a function_call that is not an object');
        return;
      }
      draft.functionCall ??= { name: '', arguments: '' };
      this.callPiece(draft.functionCall, function_call);
    }
    if (audio !== undefined && audio !== null) {
      if (!isObject(audio)) {
        this.refuse('audio that is not an object');
        return;
      }
      draft.audio ??= {};
      const { id, expires_at, ...pieces } = audio;
      keep(draft.audio, { id, expires_at });
      this.fold(draft.audio, pieces);
    }
  }

  /** A tool call arrives in pieces under its own index: id, type and name once, arguments in parts. */
  private toolCall(draft: ChoiceDraft, t: unknown): void {
    if (!isObject(t) || typeof t.index !== 'number') {
      this.refuse('a tool call without an index');
      return;
    }
    const { index, type, function: fn, ...fields } = t;
    // Other tool types (custom tools) stream other pieces, which no rule here rebuilds.
    if (type !== undefined && type !== null && type !== 'function') {
      this.refuse(`a tool call of type ${JSON.stringify(type)}`);
      return;
    }
    let call = draft.toolCalls.get(index);
    if (!call) {
      call = { fields: {}, function: { name: '', arguments: '' } };
      draft.toolCalls.set(index, call);
    }
    keep(call.fields, fields);
    if (fn === undefined || fn === null) return;
    if (!isObject(fn)) {
      this.refuse('a tool call function that is not an object');
      return;
    }
    this.callPiece(call.function, fn);
  }

  /** A function's name is a value (the SDK's helper keeps the latest); its arguments are text. */
  private callPiece(into: Json, piece: Json): void {
    const { name, arguments: args, ...fields } = piece;
    if (typeof name === 'string' && name !== '') into.name = name;
    if (args !== undefined && args !== null && typeof args !== 'string') {
      this.refuse('function arguments that are not text');
      return;
    }
    this.append(into, 'arguments', args);
    keep(into, fields);
  }

  protected finish(d: ChoiceDraft, index: number): Json {
    const calls = [...d.toolCalls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => ({
        id: c.fields.id,
        type: 'function',
        ...c.fields,
        function: c.function,
      }));
    const fc = d.functionCall;
    return {
      index,
      message: {
        ...d.message,
        ...(fc ? { function_call: fc } : {}),
        ...(calls.length === 0 ? {} : { tool_calls: calls }),
        ...(d.audio ? { audio: d.audio } : {}),
      },
      logprobs: d.logprobs,
      ...d.choice,
    };
  }
}

/**
 * The chunks a streamed request would have received for this completion, every field of the
 * message in a delta of its own so that the SDK's stream helper and an application concatenating
 * deltas both rebuild it: reasoning first (as it streams), then the text, refusal, calls, audio.
 */
function replayChat(response: Json, { includeUsage }: { includeUsage: boolean }): string[] {
  const head = chunkHead(response, 'chat.completion.chunk');
  const chunk = (choice: Json) =>
    formatEvent({ ...head, choices: [choice], ...(includeUsage ? { usage: null } : {}) });
  const events: string[] = [];
  for (const c of response.choices as Json[]) {
    const { index, message, logprobs, finish_reason, ...choiceFields } = c;
    const { role, content, refusal, tool_calls, function_call, audio, ...other } = message as Json;
    const base = { index, logprobs: null, finish_reason: null };
    let pendingLogprobs = logprobs ?? null;
    /** The text's logprobs go with the first piece of text (content, else refusal), else the last chunk. */
    const withLogprobs = () => {
      const lp = pendingLogprobs;
      pendingLogprobs = null;
      return lp;
    };
    const nulls = Object.fromEntries(Object.entries(other).filter(([, v]) => v === null));
    events.push(chunk({ ...base, delta: { role: role ?? 'assistant', content: '', ...nulls } }));
    for (const [k, v] of Object.entries(other))
      if (typeof v === 'string') events.push(chunk({ ...base, delta: { [k]: v } }));
    if (typeof content === 'string' && content !== '')
      events.push(chunk({ ...base, delta: { content }, logprobs: withLogprobs() }));
    if (typeof refusal === 'string')
      events.push(chunk({ ...base, delta: { refusal }, logprobs: content ? null : withLogprobs() }));
    if (isObject(function_call)) events.push(chunk({ ...base, delta: { function_call } }));
    if (Array.isArray(tool_calls)) {
      const calls = (tool_calls as Json[]).map((t, i) => ({ index: i, ...t }));
      events.push(chunk({ ...base, delta: { tool_calls: calls } }));
    }
    if (isObject(audio)) events.push(chunk({ ...base, delta: { audio } }));
    for (const [k, v] of Object.entries(other))
      if (typeof v !== 'string' && v !== null && v !== undefined)
        events.push(chunk({ ...base, delta: { [k]: v } }));
    events.push(chunk({ ...base, ...choiceFields, delta: {}, logprobs: withLogprobs(), finish_reason }));
  }
  if (includeUsage) events.push(formatEvent({ ...head, choices: [], usage: response.usage ?? null }));
  events.push(formatEvent('[DONE]'));
  return events;
}
