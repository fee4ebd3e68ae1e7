/**
 * OpenAI `POST /v1/completions` (the legacy text endpoint, still served by most OpenAI-compatible
 * servers). A stream is `text_completion` chunks whose choices carry text pieces by index.
 */

import { formatEvent, type SseEvent } from '../sse.js';
import {
  type CanonicalRequest,
  type Endpoint,
  eventJson,
  isObject,
  type Json,
  OPENAI_IGNORED,
  promptOf,
  RequestError,
  requireModel,
  type StreamAssembler,
  usageFrom,
} from './endpoint.js';

export const openaiCompletions: Endpoint = {
  path: '/v1/completions',
  label: 'completions',
  api: 'openai',
  canonical(body): CanonicalRequest {
    const model = requireModel(body);
    if (body.prompt === undefined) throw new RequestError('prompt: is required');
    return {
      model,
      prompt: promptOf(body, 'prompt', OPENAI_IGNORED),
      question: typeof body.prompt === 'string' ? body.prompt : '',
      stream: body.stream === true,
      includeUsage: isObject(body.stream_options) && body.stream_options.include_usage === true,
    };
  },
  isResponse(value): value is Json {
    return (
      isObject(value) &&
      value.object === 'text_completion' &&
      Array.isArray(value.choices) &&
      value.choices.length > 0 &&
      value.choices.every((c) => isObject(c) && typeof c.text === 'string')
    );
  },
  usage: (response) => usageFrom(response.usage, 'prompt_tokens', 'completion_tokens'),
  text: (response) => (response.choices as Json[]).map((c) => c.text).join('\n'),
  assembler: () => new CompletionAssembler(),
  replay(response, { includeUsage }) {
    const head = {
      id: response.id,
      object: 'text_completion',
      created: response.created,
      model: response.model,
    };
    const events = (response.choices as Json[]).map((c) =>
      formatEvent({ ...head, choices: [c], ...(includeUsage ? { usage: null } : {}) }),
    );
    if (includeUsage) events.push(formatEvent({ ...head, choices: [], usage: response.usage ?? null }));
    events.push(formatEvent('[DONE]'));
    return events;
  },
  streamBody: (body) => ({
    ...body,
    stream_options: { ...(isObject(body.stream_options) ? body.stream_options : {}), include_usage: true },
  }),
  usageOnly(event) {
    if (!event.data.includes('"usage"')) return false;
    const chunk = eventJson(event.data);
    return chunk !== undefined && Array.isArray(chunk.choices) && chunk.choices.length === 0;
  },
};

class CompletionAssembler implements StreamAssembler {
  private head: Json = {};
  private readonly choices = new Map<number, Json & { text: string }>();
  private usage: unknown = null;
  private done = false;

  push(event: SseEvent): 'more' | 'done' | 'error' {
    if (event.data === '[DONE]') {
      this.done = true;
      return 'done';
    }
    const chunk = eventJson(event.data);
    if (!chunk) return 'more';
    if (chunk.error !== undefined) return 'error';
    for (const field of ['id', 'created', 'model', 'system_fingerprint'])
      if (chunk[field] !== undefined && chunk[field] !== null) this.head[field] = chunk[field];
    if (isObject(chunk.usage)) this.usage = chunk.usage;
    for (const c of Array.isArray(chunk.choices) ? chunk.choices : []) {
      if (!isObject(c) || typeof c.index !== 'number') continue;
      const draft = this.choices.get(c.index) ?? {
        index: c.index,
        text: '',
        logprobs: null,
        finish_reason: null,
      };
      if (typeof c.text === 'string') draft.text += c.text;
      if (typeof c.finish_reason === 'string') draft.finish_reason = c.finish_reason;
      this.choices.set(c.index, draft);
    }
    return 'more';
  }

  result(): Json | undefined {
    if (!this.done || this.choices.size === 0) return undefined;
    const choices = [...this.choices.values()].sort((a, b) => (a.index as number) - (b.index as number));
    return { ...this.head, object: 'text_completion', choices, usage: this.usage };
  }
}
