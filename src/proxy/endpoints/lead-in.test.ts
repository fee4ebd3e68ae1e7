/**
 * Which streamed events carry none of the answer (lead-in.ts): the known opening shapes of both
 * APIs do not; anything else, unknown shapes included, does (a failure after it surfaces).
 */
import { describe, expect, it } from 'vitest';
import type { SseEvent } from '../sse.js';
import { chatChunkCarriesAnswer, messageEventCarriesAnswer } from './lead-in.js';

const event = (data: unknown, name?: string): SseEvent => {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return { event: name, data: text, raw: `data: ${text}\n\n` };
};
const chunk = (delta: unknown, extra: Record<string, unknown> = {}) =>
  event({
    id: 'c',
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: null, ...extra }],
  });

describe('chatChunkCarriesAnswer', () => {
  it('no answer: the role-only opener, empty fields, metadata-only chunks', () => {
    expect(chatChunkCarriesAnswer(chunk({ role: 'assistant', content: '' }))).toBe(false);
    expect(chatChunkCarriesAnswer(chunk({ role: 'assistant', content: null, refusal: null }))).toBe(false);
    expect(chatChunkCarriesAnswer(chunk({ tool_calls: [] }))).toBe(false);
    expect(chatChunkCarriesAnswer(event({ choices: [], prompt_filter_results: [] }))).toBe(false);
  });
  it('answer: content, a tool call, a refusal, an unknown delta field, logprobs, not JSON', () => {
    expect(chatChunkCarriesAnswer(chunk({ content: 'Hi' }))).toBe(true);
    expect(chatChunkCarriesAnswer(chunk({ role: 'assistant', tool_calls: [{ index: 0 }] }))).toBe(true);
    expect(chatChunkCarriesAnswer(chunk({ refusal: 'No' }))).toBe(true);
    expect(chatChunkCarriesAnswer(chunk({ role: 'assistant', reasoning_content: '' }))).toBe(true);
    expect(chatChunkCarriesAnswer(chunk({ content: '' }, { logprobs: { content: [] } }))).toBe(true);
    expect(chatChunkCarriesAnswer(event('not json'))).toBe(true);
  });
});

describe('messageEventCarriesAnswer', () => {
  it('no answer: message_start, ping, an empty text block start, message_delta', () => {
    const start = { type: 'message_start', message: { id: 'm', content: [], usage: {} } };
    expect(messageEventCarriesAnswer(event(start, 'message_start'))).toBe(false);
    expect(messageEventCarriesAnswer(event({ type: 'ping' }, 'ping'))).toBe(false);
    const block = { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } };
    expect(messageEventCarriesAnswer(event(block, 'content_block_start'))).toBe(false);
    expect(messageEventCarriesAnswer(event({ type: 'message_delta', delta: {} }, 'message_delta'))).toBe(
      false,
    );
  });
  it('answer: a text delta, a tool_use or thinking block, text in a start, an unknown event', () => {
    const delta = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } };
    expect(messageEventCarriesAnswer(event(delta))).toBe(true);
    for (const content_block of [
      { type: 'tool_use', id: 't', name: 'weather', input: {} },
      { type: 'thinking', thinking: '' },
      { type: 'text', text: 'Hi' },
    ])
      expect(messageEventCarriesAnswer(event({ type: 'content_block_start', index: 0, content_block }))).toBe(
        true,
      );
    const started = { type: 'message_start', message: { content: [{ type: 'text', text: 'Hi' }] } };
    expect(messageEventCarriesAnswer(event(started))).toBe(true);
    expect(messageEventCarriesAnswer(event({ type: 'something_new' }))).toBe(true);
  });
});
