/**
 * Anthropic `POST /v1/messages`. A stream is `message_start`, then per content block a start,
 * deltas (text, tool-input JSON pieces, thinking, signatures, citations) and a stop, then
 * `message_delta` (stop reason, output usage) and `message_stop`. Stored: the message the same
 * request without `stream` returns; an event or delta type this module does not know makes the
 * answer unstorable (it may carry a piece of the answer), while the stream still reaches clients.
 *
 * `cache_control` markers (Anthropic's prompt caching) do not change the answer, so they are left
 * out of the key; `anthropic-version` and `anthropic-beta` headers can, so they are in it.
 */

import { RequestError } from '../../errors.js';
import { formatEvent, type SseEvent } from '../sse.js';
import {
  type Endpoint,
  eventJson,
  finalText,
  isObject,
  type Json,
  promptOf,
  requireModel,
  type StreamAssembler,
  usageFrom,
} from './endpoint.js';
import { messageEventCarriesAnswer } from './lead-in.js';

const IGNORED = new Set(['stream', 'metadata', 'service_tier', 'cache']);

export const anthropicMessages: Endpoint = {
  path: '/v1/messages',
  label: 'messages',
  api: 'anthropic',
  keyHeaders: ['anthropic-version', 'anthropic-beta'],
  canonical(body, headers) {
    const model = requireModel(body);
    if (!Array.isArray(body.messages))
      throw new RequestError('messages: must be an array', 'STRATA_REQUEST_NO_MESSAGES');
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
  assembler: (maxBytes) => new MessageAssembler(maxBytes),
  replay: replayMessage,
  carriesAnswer: messageEventCarriesAnswer,
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

/** The delta types of a content block, and the block field each is a piece of. */
const TEXT_DELTAS: Record<string, string> = {
  text_delta: 'text',
  thinking_delta: 'thinking',
  signature_delta: 'signature',
};

class MessageAssembler implements StreamAssembler {
  unstorable: string | undefined;
  private message: Json | undefined;
  private blocks: (Json | undefined)[] = [];
  /** Tool inputs arrive as JSON text in pieces; parsed when their block stops. */
  private readonly partialJson = new Map<number, string>();
  private done = false;
  /** Characters appended so far: a lower bound of the answer's JSON bytes. */
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  push(event: SseEvent): 'more' | 'done' | 'error' {
    const data = eventJson(event.data);
    const type = event.event ?? data?.type;
    if (type === 'error') return 'error';
    if (type === 'message_stop') {
      this.done = true;
      return 'done';
    }
    if (this.unstorable !== undefined || type === 'ping') return 'more';
    if (!data) {
      this.refuse('an event that is not a JSON object');
      return 'more';
    }
    switch (type) {
      case 'message_start':
        if (!isObject(data.message)) this.refuse('a message_start without its message');
        else {
          this.message = { ...data.message };
          if (Array.isArray(data.message.content))
            this.blocks = data.message.content.map((b) => (isObject(b) ? { ...b } : undefined));
        }
        break;
      case 'content_block_start':
        if (typeof data.index !== 'number' || !isObject(data.content_block) || this.blocks[data.index])
          this.refuse('a content block that cannot be placed');
        else this.blocks[data.index] = { ...data.content_block };
        break;
      case 'content_block_delta':
        this.delta(data.index, data.delta);
        break;
      case 'content_block_stop':
        this.stop(data.index);
        break;
      case 'message_delta':
        this.messageDelta(data);
        break;
      default:
        // Anthropic may add event types; one the gateway does not know may carry a piece of the answer.
        this.refuse(`an event of type ${JSON.stringify(type)}`);
    }
    return 'more';
  }

  private delta(index: unknown, delta: unknown): void {
    const block = typeof index === 'number' ? this.blocks[index] : undefined;
    if (!block || !isObject(delta)) {
      this.refuse('a delta for no content block');
      return;
    }
    const field = typeof delta.type === 'string' ? TEXT_DELTAS[delta.type] : undefined;
    if (field !== undefined) {
      const piece = delta[field];
      if (typeof piece !== 'string' || (block[field] !== undefined && typeof block[field] !== 'string')) {
        this.refuse(`a ${delta.type} of an unexpected shape`);
        return;
      }
      block[field] = `${block[field] ?? ''}${piece}`;
      this.grow(piece.length);
    } else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') {
      this.partialJson.set(
        index as number,
        (this.partialJson.get(index as number) ?? '') + delta.partial_json,
      );
      this.grow(delta.partial_json.length);
    } else if (delta.type === 'citations_delta' && isObject(delta.citation)) {
      if (!Array.isArray(block.citations)) block.citations = [];
      (block.citations as unknown[]).push(delta.citation);
      this.grow(JSON.stringify(delta.citation).length);
    } else this.refuse(`a delta of type ${JSON.stringify(delta.type)}`);
  }

  private stop(index: unknown): void {
    const block = typeof index === 'number' ? this.blocks[index] : undefined;
    if (!block) {
      this.refuse('a stop for no content block');
      return;
    }
    const json = this.partialJson.get(index as number);
    if (json === undefined) return;
    this.partialJson.delete(index as number);
    try {
      block.input = json === '' ? {} : JSON.parse(json);
    } catch {
      this.refuse('tool input that is not JSON');
    }
  }

  /** Stop reason and sequence (and whatever else the delta carries), cumulative usage, other fields. */
  private messageDelta(data: Json): void {
    const message = this.message;
    if (!message) {
      this.refuse('a message_delta before message_start');
      return;
    }
    const { type: _, delta, usage, ...fields } = data;
    if (isObject(delta)) Object.assign(message, delta);
    // Usage counts are whole-message totals, omitted or null when they do not apply: never erased.
    if (isObject(usage)) {
      const into: Json = isObject(message.usage) ? { ...message.usage } : {};
      for (const [k, v] of Object.entries(usage)) if (v !== null || !(k in into)) into[k] = v;
      message.usage = into;
    }
    for (const [k, v] of Object.entries(fields)) if (v !== null && v !== undefined) message[k] = v;
  }

  private grow(n: number): void {
    this.bytes += n;
    if (this.bytes > this.maxBytes) this.refuse(`an answer larger than ${this.maxBytes} bytes`);
  }

  /** The answer cannot be stored: what was built is let go, and the stream only followed to its end. */
  private refuse(why: string): void {
    this.unstorable ??= why;
    this.message = undefined;
    this.blocks = [];
    this.partialJson.clear();
  }

  result(): Json | undefined {
    if (!this.done || !this.message || this.unstorable !== undefined) return undefined;
    // A block that never arrived, or a tool input that never stopped: not the whole answer.
    const content: Json[] = [];
    for (let i = 0; i < this.blocks.length; i++) {
      const block = this.blocks[i];
      if (block) content.push(block);
    }
    if (this.partialJson.size > 0 || content.length !== this.blocks.length) {
      this.unstorable = 'content blocks missing or unfinished';
      return undefined;
    }
    return { ...this.message, content };
  }
}

/**
 * The events a live stream has for this message: each block opened empty and filled by its deltas
 * (text and its citations, tool input as JSON, thinking and its signature); a block without deltas
 * (redacted thinking, server tool results) arrives whole in its start.
 */
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
      const citations = Array.isArray(block.citations) && block.citations.length > 0 ? block.citations : [];
      emit('content_block_start', {
        index,
        content_block: { ...block, text: '', ...(citations.length > 0 ? { citations: [] } : {}) },
      });
      if (typeof block.text === 'string' && block.text !== '')
        emit('content_block_delta', { index, delta: { type: 'text_delta', text: block.text } });
      for (const citation of citations)
        emit('content_block_delta', { index, delta: { type: 'citations_delta', citation } });
    } else if (block.type === 'tool_use' || block.type === 'server_tool_use') {
      emit('content_block_start', { index, content_block: { ...block, input: {} } });
      emit('content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input ?? {}) },
      });
    } else if (block.type === 'thinking') {
      emit('content_block_start', { index, content_block: { ...block, thinking: '', signature: '' } });
      emit('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: block.thinking } });
      if (typeof block.signature === 'string')
        emit('content_block_delta', {
          index,
          delta: { type: 'signature_delta', signature: block.signature },
        });
    } else {
      emit('content_block_start', { index, content_block: block });
    }
    emit('content_block_stop', { index });
  });
  const { stop_reason, stop_sequence, stop_details, container } = response;
  emit('message_delta', {
    delta: {
      stop_reason,
      stop_sequence: stop_sequence ?? null,
      ...(stop_details === undefined ? {} : { stop_details }),
      ...(container === undefined ? {} : { container }),
    },
    usage: { output_tokens: usage.output_tokens ?? 0 },
  });
  emit('message_stop', {});
  return events;
}
