/**
 * Stale-if-error through withCache (core/stale.ts): an answer past its TTL, kept for the grace,
 * answers a model call that failed with an outage, marked and counted; never while the model
 * answers, never past the grace, never for a request's own error.
 */
import { APIError as AnthropicAPIError } from '@anthropic-ai/sdk';
import {
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import { BaseChatModel, type BaseChatModelCallOptions } from '@langchain/core/language_models/chat_models';
import { LLM } from '@langchain/core/language_models/llms';
import { AIMessage, AIMessageChunk, type BaseMessage } from '@langchain/core/messages';
import { ChatGenerationChunk, type ChatResult } from '@langchain/core/outputs';
import { Ollama } from 'ollama';
import { APIError as OpenAIAPIError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { StrataConfig } from '../config/schema.js';
import { ManualClock } from '../core/clock.js';
import { StrataConfigError } from '../errors.js';
import type { StrataCache } from './cache.js';
import { createCache } from './create.js';
import { isModelOutage } from './model-failure.js';
import { withCache } from './with-cache.js';

/** An HTTP error as the provider SDKs throw them: a message and the status. */
const httpError = (status: number) => Object.assign(new Error(`${status} from the provider`), { status });
/** A refused connection as an SDK wraps it: its own error, Node's as the cause. */
const refused = () =>
  Object.assign(new Error('Connection error.'), {
    name: 'APIConnectionError',
    cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
  });

/** A chat model that answers "answer N to <question>", or throws `down` while it is set. */
class SwitchableChat extends BaseChatModel {
  calls = 0;
  /** Thrown by every call while set: the provider is down. */
  down: Error | undefined;
  /** Streams: chunks sent before `down` is thrown (0: before the first). */
  chunksBeforeFailure = 0;
  /** Streams: chunks sent ahead of the answer's, failing or not (a provider's role-only opening). */
  opening: (() => ChatGenerationChunk)[] = [];

  _llmType(): string {
    return 'switchable-chat';
  }

  override _identifyingParams(): Record<string, unknown> {
    return { model: 'switchable-1' };
  }

  private answer(messages: BaseMessage[]): string {
    this.calls++;
    return `answer ${this.calls} to ${String(messages.at(-1)!.content)}`;
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    if (this.down) {
      this.calls++;
      throw this.down;
    }
    const text = this.answer(messages);
    return { generations: [{ text, message: new AIMessage(text) }] };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    _options: BaseChatModelCallOptions,
    _runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const text = this.answer(messages);
    const words = text.split(/(?<= )/);
    for (const chunk of this.opening) yield chunk();
    for (const [i, word] of words.entries()) {
      if (this.down && i >= this.chunksBeforeFailure) throw this.down;
      yield new ChatGenerationChunk({ text: word, message: new AIMessageChunk({ content: word }) });
    }
  }
}

/** OpenAI's first chunk, as @langchain/openai yields it: the role, no content. */
const openaiRoleChunk = () =>
  new ChatGenerationChunk({
    text: '',
    message: new AIMessageChunk({
      content: '',
      additional_kwargs: {},
      response_metadata: { model_provider: 'openai' },
    }),
  });
/** Anthropic's message_start, as @langchain/anthropic yields it: ids, model, the input tokens. */
const anthropicMessageStart = () =>
  new ChatGenerationChunk({
    text: '',
    message: new AIMessageChunk({
      id: 'msg_01',
      content: '',
      additional_kwargs: { id: 'msg_01', type: 'message', role: 'assistant', model: 'claude-x' },
      usage_metadata: { input_tokens: 12, output_tokens: 0, total_tokens: 12 },
      response_metadata: { usage: {} },
    }),
  });
/** Anthropic's content_block_start of a text block (content as parts): an empty text part. */
const anthropicTextStart = () =>
  new ChatGenerationChunk({
    text: '',
    message: new AIMessageChunk({ content: [{ index: 0, type: 'text', text: '' }] }),
  });

const TTL = 60;
const GRACE = 600;
const opened: StrataCache[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});

async function setup(config: Partial<StrataConfig> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const cache = await createCache(
    {
      tiers: [{ type: 'memory' }, { type: 'sqlite', path: ':memory:' }],
      defaultTtlSeconds: TTL,
      staleIfErrorSeconds: GRACE,
      ...config,
    },
    { clock, logger: { warn: () => {} } },
  );
  opened.push(cache);
  const fake = new SwitchableChat({});
  const model = withCache(fake, cache, { replayChunks: 3 });
  return { clock, cache, fake, model };
}

const strataOf = (m: { response_metadata: Record<string, unknown> }) =>
  m.response_metadata.strata as { hit: boolean; stale?: boolean; tier?: string; ageSeconds?: number };

async function streamed(stream: AsyncIterable<AIMessageChunk>): Promise<AIMessageChunk> {
  const chunks: AIMessageChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks.reduce((a, b) => a.concat(b));
}

describe('withCache stale-if-error', () => {
  it('provider down for the whole grace window: stale answers, marked and counted; back: fresh; past the grace: the error', async () => {
    const { clock, cache, fake, model } = await setup();
    const first = await model.invoke('the question');
    expect(first.content).toBe('answer 1 to the question');
    clock.advance((TTL + 1) * 1000);
    fake.down = httpError(503);
    // From just past the TTL to just before the grace ends, every call is answered stale.
    for (const at of [TTL + 1, TTL + GRACE / 2, TTL + GRACE - 1]) {
      clock.advance(at * 1000 - (clock.now() - Date.UTC(2026, 0, 1)));
      const stale = await model.invoke('the question');
      expect(stale.content).toBe('answer 1 to the question');
      expect(strataOf(stale)).toMatchObject({ hit: true, stale: true, tier: 'memory' });
      expect(strataOf(stale).ageSeconds).toBe(at);
    }
    const stats = await cache.strata.stats({ store: false });
    expect(stats.stale).toBe(3);
    expect(stats.misses).toBe(4);
    expect(stats.updates).toBe(1); // a stale answer is never stored back
    // The provider is back: a fresh answer, which replaces the entry.
    fake.down = undefined;
    const fresh = await model.invoke('the question');
    expect(fresh.content).toBe('answer 5 to the question');
    expect(strataOf(fresh)).toEqual({ hit: false });
    const hit = await model.invoke('the question');
    expect(hit.content).toBe('answer 5 to the question');
    expect(strataOf(hit)).toMatchObject({ hit: true });
    expect(strataOf(hit).stale).toBeUndefined();
    // Down again, past this entry's TTL and grace: the error surfaces.
    fake.down = httpError(503);
    clock.advance((TTL + GRACE) * 1000);
    await expect(model.invoke('the question')).rejects.toThrow('503 from the provider');
    expect((await cache.strata.stats({ store: false })).stale).toBe(3);
  });

  it('never while the model answers: a fresh answer wins past the TTL', async () => {
    const { clock, fake, model } = await setup();
    await model.invoke('q');
    clock.advance((TTL + 1) * 1000);
    const fresh = await model.invoke('q');
    expect(fresh.content).toBe('answer 2 to q');
    expect(strataOf(fresh)).toEqual({ hit: false });
    expect(fake.calls).toBe(2);
  });

  it('a lookup past the TTL misses, and the sqlite tier keeps the entry for the grace (stale from the second tier)', async () => {
    const { clock, cache, fake, model } = await setup({
      tiers: [
        { type: 'memory', ttlSeconds: 30 },
        { type: 'sqlite', path: ':memory:' },
      ],
    });
    await model.invoke('q');
    clock.advance((TTL + GRACE - 5) * 1000);
    fake.down = httpError(429);
    const stale = await model.invoke('q');
    // The memory tier's own TTL (30 s) still shortens what it keeps: the grace never extends it.
    expect(strataOf(stale)).toMatchObject({ stale: true, tier: 'sqlite' });
    expect((await cache.strata.stats({ store: false })).stale).toBe(1);
  });

  it('a request error (400) surfaces; so does an error of no known kind', async () => {
    const { clock, fake, model } = await setup();
    await model.invoke('q');
    clock.advance((TTL + 1) * 1000);
    fake.down = httpError(400);
    await expect(model.invoke('q')).rejects.toThrow('400 from the provider');
    fake.down = httpError(401);
    await expect(model.invoke('q')).rejects.toThrow('401');
    fake.down = new TypeError('a bug in the model wrapper');
    await expect(model.invoke('q')).rejects.toThrow('a bug');
    fake.down = refused();
    expect(strataOf(await model.invoke('q'))).toMatchObject({ stale: true });
  });

  it('a stream broken before its first chunk is answered stale, as a stream; after its first chunk, the error', async () => {
    const { clock, fake, model } = await setup();
    await model.invoke('streamed question');
    clock.advance((TTL + 1) * 1000);
    fake.down = httpError(502);
    fake.chunksBeforeFailure = 0;
    const stale = await streamed(await model.stream('streamed question'));
    expect(stale.content).toBe('answer 1 to streamed question');
    expect(strataOf(stale)).toMatchObject({ hit: true, stale: true });
    fake.chunksBeforeFailure = 1;
    await expect(streamed(await model.stream('streamed question'))).rejects.toThrow('502');
  });

  it("a stream broken after chunks that carry none of the answer (OpenAI's role-only, Anthropic's message_start) is answered stale", async () => {
    const { clock, fake, model } = await setup();
    await model.invoke('opened question');
    clock.advance((TTL + 1) * 1000);
    fake.opening = [openaiRoleChunk, anthropicMessageStart, anthropicTextStart];
    fake.down = httpError(529);
    fake.chunksBeforeFailure = 0;
    const stale = await streamed(await model.stream('opened question'));
    expect(stale.content).toBe('answer 1 to opened question');
    expect(strataOf(stale)).toMatchObject({ hit: true, stale: true });
    // Once content is out, the error.
    fake.chunksBeforeFailure = 1;
    await expect(streamed(await model.stream('opened question'))).rejects.toThrow('529');
    // A request error after the opening chunks surfaces as before.
    fake.down = httpError(400);
    fake.chunksBeforeFailure = 0;
    // (LangChain's stream() awaits the first chunk itself: the error comes from stream().)
    await expect(model.stream('opened question')).rejects.toThrow('400');
  });

  it('a first chunk with a tool call, reasoning or a refusal is answer: a failure after it surfaces', async () => {
    const { clock, fake, model } = await setup();
    await model.invoke('tools question');
    clock.advance((TTL + 1) * 1000);
    fake.down = httpError(503);
    const toolCall = () =>
      new ChatGenerationChunk({
        text: '',
        message: new AIMessageChunk({
          content: '',
          tool_call_chunks: [{ name: 'search', args: '', id: 'call_1', index: 0, type: 'tool_call_chunk' }],
        }),
      });
    const kwargs = (additional_kwargs: Record<string, unknown>) => () =>
      new ChatGenerationChunk({ text: '', message: new AIMessageChunk({ content: '', additional_kwargs }) });
    for (const first of [
      toolCall,
      kwargs({ reasoning_content: 'Let me think' }),
      kwargs({ refusal: 'No.' }),
    ]) {
      fake.opening = [openaiRoleChunk, first];
      await expect(streamed(await model.stream('tools question'))).rejects.toThrow('503');
    }
  });

  it('the held opening chunks are passed on ahead of the content when the stream succeeds', async () => {
    const { fake, model } = await setup();
    fake.opening = [anthropicMessageStart];
    const chunks: AIMessageChunk[] = [];
    for await (const c of await model.stream('q')) chunks.push(c);
    expect(chunks[0]!.id).toBe('msg_01');
    const whole = chunks.reduce((a, b) => a.concat(b));
    expect(whole.content).toBe('answer 1 to q');
    expect(whole.usage_metadata).toMatchObject({ input_tokens: 12 });
    expect(strataOf(whole)).toMatchObject({ hit: false });
  });

  it('concurrent identical calls while the provider is down: every one is answered stale', async () => {
    const { clock, cache, fake, model } = await setup({ coalesceWaitMs: 15_000 });
    await model.invoke('shared');
    clock.advance((TTL + 1) * 1000);
    fake.down = httpError(503);
    const answers = await Promise.all(Array.from({ length: 6 }, () => model.invoke('shared')));
    for (const a of answers) {
      expect(a.content).toBe('answer 1 to shared');
      expect(strataOf(a)).toMatchObject({ stale: true });
    }
    expect((await cache.strata.stats({ store: false })).stale).toBe(6);
  });

  it('per call: staleIfErrorSeconds bounds how stale (0: never), and sets the grace of what the call stores', async () => {
    const { clock, fake, model } = await setup({ staleIfErrorSeconds: 0 });
    await model.invoke('kept by the call', { configurable: { cache: { staleIfErrorSeconds: 300 } } });
    await model.invoke('kept by nothing');
    clock.advance((TTL + 100) * 1000);
    fake.down = httpError(503);
    expect(strataOf(await model.invoke('kept by the call'))).toMatchObject({ stale: true });
    await expect(model.invoke('kept by nothing')).rejects.toThrow('503');
    await expect(
      model.invoke('kept by the call', { configurable: { cache: { staleIfErrorSeconds: 0 } } }),
    ).rejects.toThrow('503');
    await expect(
      model.invoke('kept by the call', { configurable: { cache: { staleIfErrorSeconds: 50 } } }),
    ).rejects.toThrow('503');
    expect(
      strataOf(
        await model.invoke('kept by the call', { configurable: { cache: { staleIfErrorSeconds: 150 } } }),
      ),
    ).toMatchObject({ stale: true });
    // no-cache and refresh skip the cache, its stale answers too.
    await expect(
      model.invoke('kept by the call', { configurable: { cache: { mode: 'refresh' } } }),
    ).rejects.toThrow('503');
  });

  it('a bad grace is refused with the field named', async () => {
    const { model, cache, fake } = await setup();
    await expect(model.invoke('q', { configurable: { cache: { staleIfErrorSeconds: -1 } } })).rejects.toThrow(
      /configurable\.cache\.staleIfErrorSeconds/,
    );
    expect(() => withCache(fake, cache, { staleIfErrorSeconds: Number.NaN })).toThrow(
      /withCache\.staleIfErrorSeconds/,
    );
    await expect(createCache({ tiers: [{ type: 'memory' }], staleIfErrorSeconds: -5 })).rejects.toThrow(
      StrataConfigError,
    );
    await expect(createCache({ tiers: [{ type: 'memory' }], staleIfErrorSeconds: -5 })).rejects.toThrow(
      /staleIfErrorSeconds/,
    );
  });
});

/** A text-completion LLM that answers "completion N", or throws `down` while it is set. */
class SwitchableLlm extends LLM {
  calls = 0;
  down: Error | undefined;
  _llmType(): string {
    return 'switchable-llm';
  }
  override _identifyingParams(): Record<string, unknown> {
    return { model: 'switchable-llm-1' };
  }
  async _call(prompt: string): Promise<string> {
    this.calls++;
    if (this.down) throw this.down;
    return `completion ${this.calls} of ${prompt}`;
  }
}

describe('withCache stale-if-error for an LLM (CachedLLM)', () => {
  it('generate and stream answer stale while the LLM is down, marked in generationInfo.strata; the stale event fires', async () => {
    const { clock, cache } = await setup();
    const fake = new SwitchableLlm({});
    const model = withCache(fake, cache);
    const events: Array<{ tier: string; ageSeconds: number }> = [];
    cache.strata.events.on('stale', (e) => events.push({ tier: e.tier, ageSeconds: e.ageSeconds }));
    await model.invoke('p');
    clock.advance((TTL + 10) * 1000);
    fake.down = httpError(500);
    const result = await model.generate(['p']);
    expect(result.generations[0]![0]!.text).toBe('completion 1 of p');
    expect(result.generations[0]![0]!.generationInfo?.strata).toMatchObject({ hit: true, stale: true });
    let streamed = '';
    for await (const piece of await model.stream('p')) streamed += piece;
    expect(streamed).toBe('completion 1 of p');
    expect(events).toEqual([
      { tier: 'memory', ageSeconds: TTL + 10 },
      { tier: 'memory', ageSeconds: TTL + 10 },
    ]);
    fake.down = httpError(400);
    await expect(model.invoke('p')).rejects.toThrow('400');
  });
});

/** What ChatOllama throws for an HTTP error: ollama's own ResponseError (not exported), from a real call. */
async function ollamaError(status: number): Promise<unknown> {
  const body = JSON.stringify({ error: 'server busy' });
  const headers = { 'content-type': 'application/json' };
  const client = new Ollama({
    host: 'http://ollama.invalid',
    fetch: async () => new Response(body, { status, headers }),
  });
  return client.chat({ model: 'llama3', messages: [] }).then(
    () => expect.unreachable('the call should fail'),
    (error: unknown) => error,
  );
}

/** What a provider's stream throws for an error event sent with HTTP 200 (no status on the error). */
const anthropicStreamError = (type: string) =>
  new AnthropicAPIError(
    undefined,
    { type: 'error', error: { type, message: type } },
    undefined,
    new Headers(),
  );
const openaiStreamError = (type: string) =>
  new OpenAIAPIError(undefined, { type, message: type, code: null, param: null }, undefined, new Headers());

describe('isModelOutage', () => {
  it("recognises the status of ollama's ResponseError (status_code) and the AWS SDK's ($metadata.httpStatusCode)", async () => {
    const busy = await ollamaError(503);
    expect(busy).toMatchObject({ name: 'ResponseError', status_code: 503 });
    expect(isModelOutage(busy)).toBe(true);
    expect(isModelOutage(await ollamaError(429))).toBe(true);
    expect(isModelOutage(await ollamaError(500))).toBe(true);
    expect(isModelOutage(await ollamaError(404))).toBe(false);
    const metadata = (httpStatusCode: number) => ({
      httpStatusCode,
      requestId: 'r',
      attempts: 3,
      totalRetryDelay: 0,
    });
    expect(isModelOutage(new ThrottlingException({ message: 'slow down', $metadata: metadata(429) }))).toBe(
      true,
    );
    expect(
      isModelOutage(new ServiceUnavailableException({ message: 'unavailable', $metadata: metadata(503) })),
    ).toBe(true);
    expect(isModelOutage(new ValidationException({ message: 'bad input', $metadata: metadata(400) }))).toBe(
      false,
    );
  });

  it('a stream error event sent with HTTP 200 is an outage when its type is one (overloaded, rate limit, server error)', () => {
    expect(isModelOutage(anthropicStreamError('overloaded_error'))).toBe(true);
    expect(isModelOutage(anthropicStreamError('rate_limit_error'))).toBe(true);
    expect(isModelOutage(anthropicStreamError('api_error'))).toBe(true);
    expect(isModelOutage(openaiStreamError('server_error'))).toBe(true);
    for (const own of [
      'invalid_request_error',
      'authentication_error',
      'permission_error',
      'not_found_error',
      'request_too_large',
    ]) {
      expect(isModelOutage(anthropicStreamError(own))).toBe(false);
      expect(isModelOutage(openaiStreamError(own))).toBe(false);
    }
    // The body's type as a plain error carries it, and under a wrapper's cause.
    expect(isModelOutage(Object.assign(new Error('overloaded'), { type: 'overloaded_error' }))).toBe(true);
    expect(isModelOutage(new Error('wrapped', { cause: anthropicStreamError('overloaded_error') }))).toBe(
      true,
    );
    // A status, where there is one, decides.
    expect(isModelOutage(Object.assign(httpError(400), { error: { type: 'server_error' } }))).toBe(false);
  });

  it('429, 5xx, timeouts and refused or reset connections are outages; other statuses and the caller aborting are not', () => {
    expect(isModelOutage(httpError(429))).toBe(true);
    expect(isModelOutage(httpError(500))).toBe(true);
    expect(isModelOutage(httpError(503))).toBe(true);
    expect(isModelOutage(httpError(400))).toBe(false);
    expect(isModelOutage(httpError(404))).toBe(false);
    expect(isModelOutage(refused())).toBe(true);
    expect(isModelOutage(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isModelOutage(new Error('x', { cause: { code: 'UND_ERR_HEADERS_TIMEOUT' } }))).toBe(true);
    expect(isModelOutage({ response: { status: 502 } })).toBe(true);
    expect(isModelOutage(Object.assign(new Error('rate'), { lc_error_code: 'MODEL_RATE_LIMIT' }))).toBe(true);
    expect(isModelOutage(new Error('unknown'))).toBe(false);
    expect(isModelOutage('a string')).toBe(false);
    const aborted = new AbortController();
    aborted.abort();
    expect(isModelOutage(httpError(503), aborted.signal)).toBe(false);
    const timedOut = new AbortController();
    timedOut.abort(new DOMException('timed out', 'TimeoutError'));
    expect(isModelOutage(new Error('aborted'), timedOut.signal)).toBe(true);
  });
});
