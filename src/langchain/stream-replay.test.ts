/**
 * A streamed hit, concatenated the way LangChain aggregates a stream (`concat` of the chunks),
 * is the message the first, fresh stream aggregated to: string content, Anthropic's content block
 * array (text and tool_use blocks carrying the stream's `index`), one or several tool calls.
 * ChatAnthropic is the real class with only its network call replaced; the other answers come
 * from a fake chat model.
 */
import { ChatAnthropic } from '@langchain/anthropic';
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { AIMessage, AIMessageChunk, BaseMessage } from '@langchain/core/messages';
import { ChatGenerationChunk, type ChatResult } from '@langchain/core/outputs';
import { concat } from '@langchain/core/utils/stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createCache } from './create.js';
import { withCache } from './with-cache.js';

const opened: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const c of opened) await c.close();
});
async function memoryCache() {
  const cache = await createCache(
    {
      namespace: `replay-${Math.random().toString(36).slice(2)}`,
      coalesceWaitMs: 0,
      tiers: [{ type: 'memory' }],
    },
    { logger: { warn: () => {} } },
  );
  opened.push(cache);
  return cache;
}

const tool = {
  type: 'function' as const,
  function: {
    name: 'lookup',
    description: 'look up',
    parameters: { type: 'object', properties: { q: { type: 'string' } } },
  },
};

const encoder = new TextEncoder();
/** Anthropic's streaming answer: a text block, then one tool_use block per call. */
function anthropicFetch(calls: Array<{ id: string; input: string }>) {
  let requests = 0;
  const fetch = async (_url: unknown, init: { body: string }) => {
    requests++;
    const body = JSON.parse(init.body) as { model: string };
    const events: string[] = [];
    const ev = (type: string, data: object) =>
      events.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    ev('message_start', {
      message: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 3, output_tokens: 0 },
      },
    });
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    for (const piece of ['Let me ', 'look.'])
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } });
    ev('content_block_stop', { index: 0 });
    for (const [i, call] of calls.entries()) {
      const index = i + 1;
      ev('content_block_start', {
        index,
        content_block: { type: 'tool_use', id: call.id, name: 'lookup', input: {} },
      });
      ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: call.input } });
      ev('content_block_stop', { index });
    }
    ev('message_delta', {
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: { output_tokens: 7 },
    });
    ev('message_stop', {});
    const stream = new ReadableStream({
      start(c) {
        for (const e of events) c.enqueue(encoder.encode(e));
        c.close();
      },
    });
    return new Response(stream, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };
  return { fetch, requests: () => requests };
}

/** OpenAI-shaped answers: string content streamed in pieces, tool calls as tool_call_chunks. */
class FakeChat extends BaseChatModel {
  calls = 0;
  constructor(private readonly answer: { text: string; calls: Array<{ id: string; args: string }> }) {
    super({});
  }
  _llmType(): string {
    return 'fake-replay-chat';
  }
  async _generate(): Promise<ChatResult> {
    throw new Error('streams only');
  }
  override async *_streamResponseChunks(
    _m: BaseMessage[],
    _o: this['ParsedCallOptions'],
    _r?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    this.calls++;
    const { AIMessageChunk } = await import('@langchain/core/messages');
    for (const piece of this.answer.text.match(/.{1,3}/gs) ?? [])
      yield new ChatGenerationChunk({ text: piece, message: new AIMessageChunk({ content: piece }) });
    for (const [index, call] of this.answer.calls.entries())
      for (const [j, part] of [call.args.slice(0, 4), call.args.slice(4)].entries())
        yield new ChatGenerationChunk({
          text: '',
          message: new AIMessageChunk({
            content: '',
            tool_call_chunks: [
              {
                index,
                type: 'tool_call_chunk',
                args: part,
                ...(j === 0 ? { id: call.id, name: 'lookup' } : {}),
              },
            ],
          }),
        });
  }
}

async function streamed(model: { stream(input: string): Promise<AsyncIterable<AIMessageChunk>> }) {
  const chunks: AIMessageChunk[] = [];
  for await (const c of await model.stream('q')) chunks.push(c);
  return chunks.reduce((a, b) => concat(a, b));
}

/** The message as its consumer reads it; a hit adds its `strata` metadata, nothing else. */
function semantics(m: AIMessageChunk) {
  return {
    content: m.content,
    tool_calls: m.tool_calls,
    invalid_tool_calls: m.invalid_tool_calls,
    // A chunk's index only pairs it with its other chunks (Anthropic numbers it by content
    // block, OpenAI by call); what it says is its call's name, id and arguments, one per call.
    tool_call_chunks: (m.tool_call_chunks ?? []).map(({ name, id, args }) => ({
      name,
      id,
      args: JSON.parse(args ?? '{}') as unknown,
    })),
    distinctIndexes: new Set((m.tool_call_chunks ?? []).map((c) => c.index)).size,
  };
}

async function freshThenHit(model: { stream(input: string): Promise<AsyncIterable<AIMessageChunk>> }) {
  const fresh = await streamed(model);
  const hit = await streamed(model);
  return { fresh, hit };
}

describe('a streamed hit concatenates to the stored message', () => {
  it.each([
    ['one tool call', [{ id: 'toolu_1', input: '{"q":"abc"}' }]],
    [
      'two tool calls',
      [
        { id: 'toolu_1', input: '{"q":"abc"}' },
        { id: 'toolu_2', input: '{"q":"def"}' },
      ],
    ],
  ])('ChatAnthropic with text and tool_use blocks: %s', async (_name, calls) => {
    const cache = await memoryCache();
    const net = anthropicFetch(calls);
    const base = new ChatAnthropic({
      model: 'claude-3-5-haiku-latest',
      apiKey: 'sk-ant-test',
      maxRetries: 0,
      streaming: true,
      clientOptions: { fetch: net.fetch as unknown as typeof fetch },
    });
    const model = withCache(base, cache, { replayChunks: 4 }).bindTools([tool]);
    const { fresh, hit } = await freshThenHit(model);
    expect(net.requests()).toBe(1);
    expect(hit.response_metadata.strata).toMatchObject({ hit: true });
    expect(Array.isArray(fresh.content)).toBe(true);
    expect(fresh.tool_calls).toHaveLength(calls.length);
    expect(semantics(hit)).toEqual(semantics(fresh));
    const invoked = (await model.invoke('q')) as AIMessage;
    expect(invoked.content).toEqual(fresh.content);
    expect(invoked.tool_calls).toEqual(fresh.tool_calls);
  });

  it.each([
    ['string content', { text: 'Rotate your keys from the console.', calls: [] }],
    ['string content with a tool call', { text: 'Looking.', calls: [{ id: 'call_1', args: '{"q":"abc"}' }] }],
    [
      'tool calls only, several',
      {
        text: '',
        calls: [
          { id: 'call_1', args: '{"q":"abc"}' },
          { id: 'call_2', args: '{"q":"def"}' },
        ],
      },
    ],
  ])('%s', async (_name, answer) => {
    const cache = await memoryCache();
    const fake = new FakeChat(answer);
    const model = withCache(fake, cache, { replayChunks: 4 });
    const { fresh, hit } = await freshThenHit(model);
    expect(fake.calls).toBe(1);
    expect(hit.response_metadata.strata).toMatchObject({ hit: true });
    expect(semantics(hit)).toEqual(semantics(fresh));
    expect(hit.content).toBe(answer.text);
  });
});
