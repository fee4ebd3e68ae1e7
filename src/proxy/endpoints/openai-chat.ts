/**
 * OpenAI `POST /v1/chat/completions`. A stream is `data:` chunks of `chat.completion.chunk`
 * ending in `data: [DONE]`; choices arrive as deltas by index, tool calls as deltas by their own
 * index (id and name once, arguments in pieces). Stored: the `chat.completion` the same request
 * without `stream` returns, so a streamed and a non-streamed request share one entry.
 */

import { formatEvent } from '../sse.js';
import {
  type CanonicalRequest,
  type Endpoint,
  finalText,
  isObject,
  type Json,
  OPENAI_IGNORED,
  promptOf,
  RequestError,
  requireModel,
  usageFrom,
} from './endpoint.js';
import {
  askingForUsage,
  ChunkAssembler,
  includesUsage,
  isChoicesResponse,
  isUsageOnlyChunk,
} from './openai-chunks.js';

export const openaiChat: Endpoint = {
  path: '/v1/chat/completions',
  label: 'chat.completions',
  api: 'openai',
  canonical(body): CanonicalRequest {
    const model = requireModel(body);
    if (!Array.isArray(body.messages)) throw new RequestError('messages: must be an array');
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
  assembler: () => new ChatAssembler(),
  replay: replayChat,
  streamBody: askingForUsage,
  usageOnly: isUsageOnlyChunk,
};

interface ChoiceDraft {
  role: string;
  content: string | null;
  refusal: string | null;
  toolCalls: Map<number, { id?: string; type: string; name: string; arguments: string }>;
  logprobs: Json[] | null;
  finishReason: string | null;
}

class ChatAssembler extends ChunkAssembler<ChoiceDraft> {
  constructor() {
    super('chat.completion');
  }

  protected draft(): ChoiceDraft {
    return {
      role: 'assistant',
      content: null,
      refusal: null,
      toolCalls: new Map(),
      logprobs: null,
      finishReason: null,
    };
  }

  protected merge(draft: ChoiceDraft, piece: Json): void {
    const delta = isObject(piece.delta) ? piece.delta : {};
    if (typeof delta.role === 'string') draft.role = delta.role;
    if (typeof delta.content === 'string') draft.content = (draft.content ?? '') + delta.content;
    if (typeof delta.refusal === 'string') draft.refusal = (draft.refusal ?? '') + delta.refusal;
    if (Array.isArray(delta.tool_calls)) for (const t of delta.tool_calls) toolCall(draft, t);
    if (isObject(piece.logprobs) && Array.isArray(piece.logprobs.content))
      draft.logprobs = [...(draft.logprobs ?? []), ...(piece.logprobs.content as Json[])];
    if (typeof piece.finish_reason === 'string') draft.finishReason = piece.finish_reason;
  }

  protected finish(d: ChoiceDraft, index: number): Json {
    const calls = [...d.toolCalls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => ({ id: c.id, type: c.type, function: { name: c.name, arguments: c.arguments } }));
    return {
      index,
      message: {
        role: d.role,
        content: d.content,
        refusal: d.refusal,
        ...(calls.length === 0 ? {} : { tool_calls: calls }),
      },
      logprobs: d.logprobs === null ? null : { content: d.logprobs },
      finish_reason: d.finishReason,
    };
  }
}

/** A tool call arrives in pieces under its own index: id, type and name once, arguments in parts. */
function toolCall(draft: ChoiceDraft, t: unknown): void {
  if (!isObject(t) || typeof t.index !== 'number') return;
  let call = draft.toolCalls.get(t.index);
  if (!call) {
    call = { type: 'function', name: '', arguments: '' };
    draft.toolCalls.set(t.index, call);
  }
  if (typeof t.id === 'string') call.id = t.id;
  if (typeof t.type === 'string') call.type = t.type;
  const fn = isObject(t.function) ? t.function : {};
  if (typeof fn.name === 'string') call.name += fn.name;
  if (typeof fn.arguments === 'string') call.arguments += fn.arguments;
}

/** The chunks a streamed request would have received for this completion. */
function replayChat(response: Json, { includeUsage }: { includeUsage: boolean }): string[] {
  const head = {
    id: response.id,
    object: 'chat.completion.chunk',
    created: response.created,
    model: response.model,
    ...(response.system_fingerprint === undefined ? {} : { system_fingerprint: response.system_fingerprint }),
    ...(response.service_tier === undefined ? {} : { service_tier: response.service_tier }),
  };
  const chunk = (choice: Json) =>
    formatEvent({ ...head, choices: [choice], ...(includeUsage ? { usage: null } : {}) });
  const events: string[] = [];
  for (const c of response.choices as Json[]) {
    const message = c.message as Json;
    const base = { index: c.index, logprobs: null, finish_reason: null };
    events.push(chunk({ ...base, delta: { role: message.role ?? 'assistant', content: '' } }));
    if (typeof message.content === 'string' && message.content !== '')
      events.push(chunk({ ...base, delta: { content: message.content }, logprobs: c.logprobs ?? null }));
    if (typeof message.refusal === 'string')
      events.push(chunk({ ...base, delta: { refusal: message.refusal } }));
    if (Array.isArray(message.tool_calls)) {
      const calls = (message.tool_calls as Json[]).map((t, index) => ({ index, ...t }));
      events.push(chunk({ ...base, delta: { tool_calls: calls } }));
    }
    events.push(chunk({ ...base, delta: {}, finish_reason: c.finish_reason }));
  }
  if (includeUsage) events.push(formatEvent({ ...head, choices: [], usage: response.usage ?? null }));
  events.push(formatEvent('[DONE]'));
  return events;
}
