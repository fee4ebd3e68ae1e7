/**
 * Anthropic `POST /v1/messages`. A stream is `message_start`, then per content block a start,
 * deltas (text, tool-input JSON pieces, thinking, signatures, citations) and a stop, then
 * `message_delta` (stop reason, output usage) and `message_stop`. Stored: the message the same
 * request without `stream` returns.
 *
 * `cache_control` markers (Anthropic's prompt caching) do not change the answer, so they are left
 * out of the key; `anthropic-version` and `anthropic-beta` headers can, so they are in it.
 */

import { formatEvent, type SseEvent } from '../sse.js';
import {
  type Endpoint,
  eventJson,
  finalText,
  isObject,
  type Json,
  promptOf,
  RequestError,
  requireModel,
  type StreamAssembler,
  usageFrom,
} from './endpoint.js';

const IGNORED = new Set(['stream', 'metadata', 'service_tier', 'cache']);

export const anthropicMessages: Endpoint = {
  path: '/v1/messages',
  label: 'messages',
  api: 'anthropic',
  canonical(body, headers) {
    const model = requireModel(body);
    if (!Array.isArray(body.messages)) throw new RequestError('messages: must be an array');
    const last = body.messages.at(-1);
    const question = isObject(last) && last.role === 'user' ? finalText(last.content, ['text']) : '';
    const keyed = {
      ...body,
      messages: body.messages.map(withoutCacheControl),
      ...(Array.isArray(body.system) ? { system: body.system.map(stripMarker) } : {}),
      ...(Array.isArray(body.tools) ? { tools: body.tools.map(stripMarker) } : {}),
    };
    const versions = {
      'anthropic-version': headers['anthropic-version'],
      'anthropic-beta': headers['anthropic-beta'],
    };
    return {
      model,
      prompt: promptOf(keyed, 'messages', IGNORED, { headers: versions }),
      question,
      stream: body.stream === true,
      includeUsage: false,
    };
  },
  isResponse(value): value is Json {
    return (
      isObject(value) &&
      value.type === 'message' &&
      Array.isArray(value.content) &&
      typeof value.stop_reason === 'string'
    );
  },
  usage: (response) => usageFrom(response.usage, 'input_tokens', 'output_tokens'),
  text: (response) =>
    (response.content as Json[])
      .map((b) => (b.type === 'text' && typeof b.text === 'string' ? b.text : ''))
      .join(''),
  assembler: () => new MessageAssembler(),
  replay: replayMessage,
};

function stripMarker(block: unknown): unknown {
  if (!isObject(block) || !('cache_control' in block)) return block;
  const { cache_control: _, ...rest } = block;
  return rest;
}

function withoutCacheControl(message: unknown): unknown {
  if (!isObject(message) || !Array.isArray(message.content)) return message;
  return { ...message, content: message.content.map(stripMarker) };
}

class MessageAssembler implements StreamAssembler {
  private message: Json | undefined;
  private readonly blocks: Json[] = [];
  /** Tool inputs arrive as JSON text in pieces; parsed when their block stops. */
  private readonly partialJson = new Map<number, string>();
  private done = false;

  push(event: SseEvent): 'more' | 'done' | 'error' {
    const data = eventJson(event.data);
    const type = event.event ?? data?.type;
    if (type === 'error') return 'error';
    if (!data) return 'more';
    switch (type) {
      case 'message_start':
        if (isObject(data.message)) this.message = { ...data.message };
        break;
      case 'content_block_start':
        if (typeof data.index === 'number' && isObject(data.content_block))
          this.blocks[data.index] = { ...data.content_block };
        break;
      case 'content_block_delta':
        if (typeof data.index === 'number' && isObject(data.delta)) this.delta(data.index, data.delta);
        break;
      case 'content_block_stop':
        if (typeof data.index === 'number') return this.stop(data.index);
        break;
      case 'message_delta':
        if (this.message && isObject(data.delta)) Object.assign(this.message, data.delta);
        if (this.message && isObject(data.usage))
          this.message.usage = { ...(isObject(this.message.usage) ? this.message.usage : {}), ...data.usage };
        break;
      case 'message_stop':
        this.done = true;
        return 'done';
    }
    return 'more';
  }

  private delta(index: number, delta: Json): void {
    const block = this.blocks[index];
    if (!block) return;
    const append = (field: string, piece: unknown) => {
      if (typeof piece === 'string')
        block[field] = `${typeof block[field] === 'string' ? block[field] : ''}${piece}`;
    };
    if (delta.type === 'text_delta') append('text', delta.text);
    else if (delta.type === 'thinking_delta') append('thinking', delta.thinking);
    else if (delta.type === 'signature_delta') append('signature', delta.signature);
    else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string')
      this.partialJson.set(index, (this.partialJson.get(index) ?? '') + delta.partial_json);
    else if (delta.type === 'citations_delta' && delta.citation !== undefined)
      block.citations = [...(Array.isArray(block.citations) ? block.citations : []), delta.citation];
  }

  private stop(index: number): 'more' | 'error' {
    const json = this.partialJson.get(index);
    const block = this.blocks[index];
    if (json === undefined || !block) return 'more';
    try {
      block.input = json === '' ? {} : JSON.parse(json);
      return 'more';
    } catch {
      return 'error';
    }
  }

  result(): Json | undefined {
    if (!this.done || !this.message) return undefined;
    return { ...this.message, content: this.blocks.filter(isObject) };
  }
}

function replayMessage(response: Json): string[] {
  const events: string[] = [];
  const emit = (type: string, fields: Json) => events.push(formatEvent({ type, ...fields }, type));
  const usage = isObject(response.usage) ? response.usage : {};
  emit('message_start', {
    message: {
      ...response,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 0 },
    },
  });
  (response.content as Json[]).forEach((block, index) => {
    if (block.type === 'text') {
      emit('content_block_start', { index, content_block: { ...block, text: '' } });
      emit('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
    } else if (block.type === 'tool_use' || block.type === 'server_tool_use') {
      emit('content_block_start', { index, content_block: { ...block, input: {} } });
      emit('content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input ?? {}) },
      });
    } else if (block.type === 'thinking') {
      emit('content_block_start', { index, content_block: { ...block, thinking: '', signature: '' } });
      emit('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: block.thinking } });
      emit('content_block_delta', { index, delta: { type: 'signature_delta', signature: block.signature } });
    } else {
      emit('content_block_start', { index, content_block: block });
    }
    emit('content_block_stop', { index });
  });
  emit('message_delta', {
    delta: { stop_reason: response.stop_reason, stop_sequence: response.stop_sequence ?? null },
    usage: { output_tokens: usage.output_tokens ?? 0 },
  });
  emit('message_stop', {});
  return events;
}
