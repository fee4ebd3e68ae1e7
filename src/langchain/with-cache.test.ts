import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallbackManagerForLLMRun } from '@langchain/core/callbacks/manager';
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BindToolsInput,
} from '@langchain/core/language_models/chat_models';
import { LLM } from '@langchain/core/language_models/llms';
import {
  AIMessage,
  AIMessageChunk,
  type BaseMessage,
  ChatMessage,
  HumanMessage,
  ToolMessage,
} from '@langchain/core/messages';
import { ChatGenerationChunk, type ChatResult, GenerationChunk } from '@langchain/core/outputs';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { StrataConfig } from '../config/schema.js';
import { CacheMissError } from '../errors.js';
import { createCache } from './create.js';
import { withCache } from './with-cache.js';

type FakeOptions = BaseChatModelCallOptions & {
  tools?: Array<{ function?: { name: string }; name?: string }>;
};

/** A chat model that answers from the last message, calls the first bound tool, and streams word by word. */
class FakeChat extends BaseChatModel<FakeOptions> {
  calls = 0;
  failAfterChunks: number | undefined;

  _llmType(): string {
    return 'fake-chat';
  }

  override _identifyingParams(): Record<string, unknown> {
    return { model: 'fake-1', apiKey: 'sk-secret-never-stored' };
  }

  override bindTools(tools: BindToolsInput[], kwargs?: Partial<FakeOptions>) {
    return this.withConfig({ tools: tools as FakeOptions['tools'], ...kwargs });
  }

  private answer(messages: BaseMessage[], options: FakeOptions): AIMessage {
    this.calls++;
    const last = messages.at(-1)!;
    const text = `answer ${this.calls} to ${typeof last.content === 'string' ? last.content : JSON.stringify(last.content).length}`;
    const tool = options.tools?.[0];
    const name = tool?.function?.name ?? tool?.name;
    return new AIMessage({
      content: text,
      tool_calls: name
        ? [{ name, args: { answer: text, confidence: 1 }, id: `call_${this.calls}`, type: 'tool_call' }]
        : [],
      usage_metadata: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
    });
  }

  async _generate(messages: BaseMessage[], options: this['ParsedCallOptions']): Promise<ChatResult> {
    const message = this.answer(messages, options);
    return { generations: [{ text: message.content as string, message }] };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this['ParsedCallOptions'],
    _runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const message = this.answer(messages, options);
    const words = (message.content as string).split(/(?<= )/);
    for (const [i, word] of words.entries()) {
      if (this.failAfterChunks !== undefined && i >= this.failAfterChunks)
        throw new Error('model stream broke');
      yield new ChatGenerationChunk({ text: word, message: new AIMessageChunk({ content: word }) });
    }
    yield new ChatGenerationChunk({
      text: '',
      message: new AIMessageChunk({
        content: '',
        tool_call_chunks: message.tool_calls!.map((c, index) => ({
          name: c.name,
          args: JSON.stringify(c.args),
          id: c.id,
          index,
          type: 'tool_call_chunk' as const,
        })),
        usage_metadata: message.usage_metadata!,
      }),
    });
  }
}

// The third stack stands in for a shared tier behind a local one: a SQLite file of its own.
const dir = mkdtempSync(join(tmpdir(), 'strata-with-cache-'));
const combos: Array<[string, () => StrataConfig]> = [
  ['memory', () => ({ tiers: [{ type: 'memory' }] })],
  ['memory + sqlite', () => ({ tiers: [{ type: 'memory' }, { type: 'sqlite', path: ':memory:' }] })],
  [
    'memory + sqlite + sqlite file',
    () => ({
      tiers: [
        { type: 'memory' },
        { type: 'sqlite', path: ':memory:' },
        { type: 'sqlite', name: 'shared', path: join(dir, `${randomUUID()}.db`) },
      ],
    }),
  ],
];
const opened: Array<{ close(): Promise<void>; clear(o: { all: true }): Promise<number> }> = [];
afterAll(async () => {
  for (const c of opened) {
    await c.clear({ all: true });
    await c.close();
  }
  rmSync(dir, { recursive: true, force: true });
});
async function setup(config: StrataConfig) {
  const cache = await createCache({ coalesceWaitMs: 0, ...config }, { logger: { warn: () => {} } });
  opened.push(cache);
  const fake = new FakeChat({});
  return { cache, fake, model: withCache(fake, cache, { replayChunks: 4 }) };
}
const collect = async (stream: AsyncIterable<AIMessageChunk>) => {
  const chunks: AIMessageChunk[] = [];
  for await (const c of stream) chunks.push(c);
  const final = chunks.reduce((a, b) => a.concat(b));
  return { chunks, final };
};

describe.each(combos)('withCache over %s', (_name, config) => {
  it('stream twice: the second makes no model call and replays the same text and tool calls in several chunks', async () => {
    const { fake, model } = await setup(config());
    const tooled = model.bindTools([
      { name: 'lookup', description: 'look up', schema: z.object({ q: z.string() }) },
    ]);
    const first = await collect(await tooled.stream('How do I rotate my keys?'));
    expect(fake.calls).toBe(1);
    const second = await collect(await tooled.stream('How do I rotate my keys?'));
    expect(fake.calls).toBe(1);
    expect(second.chunks.length).toBeGreaterThan(1);
    expect(second.final.content).toBe(first.final.content);
    expect(second.final.tool_calls).toEqual(first.final.tool_calls);
    expect(second.final.tool_calls?.[0]?.name).toBe('lookup');
    expect(second.final.usage_metadata).toMatchObject({
      input_tokens: 10,
      output_tokens: 5,
      total_tokens: 15,
    });
    expect(second.final.response_metadata.strata).toMatchObject({ hit: true, tier: 'memory' });
    const invoked = await tooled.invoke('How do I rotate my keys?');
    expect(fake.calls).toBe(1);
    expect(invoked.content).toBe(first.final.content);
  });

  it('batch keeps input order with a mix of hits and misses', async () => {
    const { fake, model } = await setup(config());
    const b = await model.invoke('question b');
    const [ra, rb, rc] = await model.batch(['question a', 'question b', 'question c']);
    expect(fake.calls).toBe(3);
    expect(ra!.content).toMatch(/to question a$/);
    expect(rb!.content).toBe(b.content);
    expect(rb!.response_metadata.strata).toMatchObject({ hit: true });
    expect(rc!.content).toMatch(/to question c$/);
    expect(ra!.response_metadata.strata).toEqual({ hit: false });
  });
});

describe('withCache', () => {
  it('an aborted or failing stream stores nothing', async () => {
    const { cache, fake, model } = await setup(combos[1]![1]());
    fake.failAfterChunks = 2;
    await expect(collect(await model.stream('breaks midway'))).rejects.toThrow('model stream broke');
    fake.failAfterChunks = undefined;
    const controller = new AbortController();
    const stream = await model.stream('aborted by the caller', { signal: controller.signal });
    await expect(
      (async () => {
        for await (const _ of stream) controller.abort();
      })(),
    ).rejects.toThrow();
    expect((await cache.stats()).updates).toBe(0);
    // Neither holds its key: a new call goes to the model at once (it waited 15 s after the abort).
    expect((await cache.stats()).inFlight).toBe(0);
    const started = performance.now();
    await model.invoke('aborted by the caller');
    expect(performance.now() - started).toBeLessThan(1_000);
    await expect(
      model.invoke('breaks midway', { configurable: { cache: { mode: 'only-if-cached' } } }),
    ).rejects.toThrow(CacheMissError);
  });

  it('keys cover image bytes, tools and the structured-output schema', async () => {
    const { cache, fake, model } = await setup(combos[0]![1]());
    const ask = (base64: string) =>
      new HumanMessage({
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${base64}` } },
        ],
      });
    const cat = await model.invoke([ask('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR42mNk')]);
    const dog = await model.invoke([ask('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR42mNg')]);
    expect(fake.calls).toBe(2);
    expect(dog.response_metadata.strata).toEqual({ hit: false });
    expect(
      (await model.invoke([ask('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR42mNk')])).content,
    ).toBe(cat.content);
    expect(fake.calls).toBe(2);

    const toolA = { name: 'weather', description: 'w', schema: z.object({ city: z.string() }) };
    const toolB = { name: 'stocks', description: 's', schema: z.object({ ticker: z.string() }) };
    await model.bindTools([toolA]).invoke('same words');
    await model.bindTools([toolB]).invoke('same words');
    expect(fake.calls).toBe(4);

    const schemaA = z.object({ answer: z.string() });
    const schemaB = z.object({ answer: z.string(), confidence: z.number() });
    const a = await model.withStructuredOutput(schemaA).invoke('structured');
    const b = await model.withStructuredOutput(schemaB).invoke('structured');
    expect(fake.calls).toBe(6);
    expect(b).toMatchObject({ confidence: 1 });
    expect(a).toMatchObject({ answer: expect.any(String) });
    expect(await model.withStructuredOutput(schemaA).invoke('structured')).toEqual(a);
    expect(fake.calls).toBe(6);
    // The API key in the model's parameters is never stored.
    for await (const e of cache.strata.tiers[0]!.entries()) expect(e.payload).not.toContain('sk-secret');
  });

  it('a cached answer with tool calls and no text still says it is a hit when streamed', async () => {
    const { cache } = await setup(combos[0]![1]());
    class ToolsOnly extends FakeChat {
      override async _generate(): Promise<ChatResult> {
        this.calls++;
        const call = { name: 'lookup', args: { q: 'x' }, id: 'call_1', type: 'tool_call' as const };
        const message = new AIMessage({ content: '', tool_calls: [call] });
        return { generations: [{ text: '', message }] };
      }
    }
    const model = withCache(new ToolsOnly({}), cache);
    await model.invoke('use the tool');
    let replayed: AIMessageChunk | undefined;
    for await (const chunk of await model.stream('use the tool'))
      replayed = replayed ? replayed.concat(chunk) : chunk;
    expect(replayed?.response_metadata.strata).toMatchObject({ hit: true });
    expect(replayed?.tool_calls?.[0]).toMatchObject({ name: 'lookup', args: { q: 'x' } });
  });

  it('keys cover a ChatMessage role and what messages carry in additional_kwargs', async () => {
    const { fake, model } = await setup(combos[0]![1]());
    await model.invoke([new ChatMessage('Reply with OK', 'system')]);
    await model.invoke([new ChatMessage('Reply with OK', 'user')]);
    expect(fake.calls).toBe(2);
    const call = (args: string) =>
      new AIMessage({ content: '', additional_kwargs: { function_call: { name: 'f', arguments: args } } });
    await model.invoke([new HumanMessage('go'), call('{"a":1}'), new HumanMessage('and then?')]);
    await model.invoke([new HumanMessage('go'), call('{"a":2}'), new HumanMessage('and then?')]);
    expect(fake.calls).toBe(4);
    await model.invoke([new HumanMessage('go'), call('{"a":1}'), new HumanMessage('and then?')]);
    expect(fake.calls).toBe(4);
    const result = (status: 'success' | 'error') => [
      new HumanMessage('run it'),
      new AIMessage({ content: '', tool_calls: [{ name: 'run', args: {}, id: 't1', type: 'tool_call' }] }),
      new ToolMessage({ content: 'done', tool_call_id: 't1', status }),
    ];
    await model.invoke(result('success'));
    await model.invoke(result('error'));
    expect(fake.calls).toBe(6);
  });

  it('only-if-cached throws a typed error without calling the model; no-store leaves the cache unchanged', async () => {
    const { cache, fake, model } = await setup(combos[1]![1]());
    const onlyCached = { configurable: { cache: { mode: 'only-if-cached' as const } } };
    const error = await model.invoke('never asked', onlyCached).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheMissError);
    expect(fake.calls).toBe(0);
    await model.invoke('not kept', { configurable: { cache: { mode: 'no-store' } } });
    expect(fake.calls).toBe(1);
    expect((await cache.stats()).updates).toBe(0);
    await expect(model.invoke('not kept', onlyCached)).rejects.toThrow(CacheMissError);
    const kept = await model.invoke('kept');
    expect((await model.invoke('kept', onlyCached)).content).toBe(kept.content);
    const refreshed = await model.invoke('kept', { configurable: { cache: { mode: 'refresh' } } });
    expect(refreshed.content).not.toBe(kept.content);
    expect((await model.invoke('kept')).content).toBe(refreshed.content);
    await model.invoke('tenant question', {
      configurable: { cache: { namespace: 'tenant-a', tags: ['faq'] } },
    });
    const tenantOnly = {
      configurable: { cache: { namespace: 'tenant-a', mode: 'only-if-cached' as const } },
    };
    await model.invoke('tenant question', tenantOnly); // a hit in tenant-a
    await expect(model.invoke('tenant question', onlyCached)).rejects.toThrow(CacheMissError); // not in default
    expect(await cache.withNamespace('tenant-a').invalidateTag('faq')).toBeGreaterThan(0);
    await expect(model.invoke('tenant question', tenantOnly)).rejects.toThrow(CacheMissError);
    await expect(
      model.invoke('x', { configurable: { cache: { mode: 'sometimes' as never } } }),
    ).rejects.toThrow(/configurable\.cache\.mode/);
  });
});

describe('hit information and plain BaseCache views', () => {
  it('callbacks and streamEvents see the hit', async () => {
    const { model } = await setup(combos[0]![1]());
    await model.invoke('seen by callbacks');
    const ended: unknown[] = [];
    await model.invoke('seen by callbacks', {
      callbacks: [
        {
          handleLLMEnd(output) {
            ended.push(
              (output.generations[0]?.[0] as { message?: AIMessage } | undefined)?.message?.response_metadata
                .strata,
            );
          },
        },
      ],
    });
    expect(ended).toEqual([expect.objectContaining({ hit: true, tier: 'memory' })]);
    const streamed: string[] = [];
    for await (const event of model.streamEvents('seen by callbacks', { version: 'v2' })) {
      if (event.event === 'on_chat_model_stream') streamed.push(event.data.chunk.content as string);
    }
    expect(streamed.length).toBeGreaterThan(1);
    expect(streamed.join('')).toMatch(/^answer 1 to seen by callbacks$/);
  });

  it('a view with a mode works as LangChain`s own cache option: only-if-cached and no-store', async () => {
    const cache = await createCache({ tiers: [{ type: 'memory' }] }, { logger: { warn: () => {} } });
    opened.push(cache);
    const strict = cache.withOptions({ mode: 'only-if-cached' }).attach(new FakeChat({}));
    await expect(strict.invoke('unknown')).rejects.toThrow(CacheMissError);
    expect(strict.calls).toBe(0);
    const forgetful = cache.withOptions({ mode: 'no-store' }).attach(new FakeChat({}));
    await forgetful.invoke('not stored');
    expect(forgetful.calls).toBe(1);
    expect((await cache.stats()).updates).toBe(0);
    const normal = cache.attach(new FakeChat({}));
    const first = await normal.invoke('stored');
    expect((await strict.invoke('stored')).content).toBe(first.content);
    expect(strict.calls).toBe(0);
    expect(() => cache.withOptions({ mode: 'sometimes' as never })).toThrow(/withOptions\.mode/);
  });
});

/** A text-completion LLM that streams word by word. */
class FakeLLM extends LLM {
  calls = 0;

  _llmType(): string {
    return 'fake-llm';
  }

  async _call(prompt: string): Promise<string> {
    this.calls++;
    return `completion ${this.calls} of ${prompt}`;
  }

  override async *_streamResponseChunks(prompt: string): AsyncGenerator<GenerationChunk> {
    const text = await this._call(prompt);
    for (const word of text.split(/(?<= )/)) yield new GenerationChunk({ text: word });
  }
}

/** A chat model that cannot stream (LangChain's default _streamResponseChunks). */
class NonStreamingChat extends BaseChatModel {
  calls = 0;

  _llmType(): string {
    return 'non-streaming';
  }

  async _generate(messages: BaseMessage[]): Promise<ChatResult> {
    this.calls++;
    const text = `whole answer ${this.calls} to ${messages.at(-1)!.content as string}`;
    return { generations: [{ text, message: new AIMessage(text) }] };
  }
}

describe('withCache over an LLM and a model that cannot stream', () => {
  it('an LLM: invoke, batch in order, generate with hit info, and stream replays', async () => {
    const cache = await createCache({ tiers: [{ type: 'memory' }, { type: 'sqlite', path: ':memory:' }] });
    opened.push(cache);
    const fake = new FakeLLM({});
    const llm = withCache(fake, cache, { replayChunks: 3 });
    const first = await llm.invoke('Say hi');
    expect(await llm.invoke('Say hi')).toBe(first);
    expect(fake.calls).toBe(1);
    const [a, b, c] = await llm.batch(['alpha', 'Say hi', 'gamma']);
    expect([a, b, c]).toEqual([
      expect.stringMatching(/of alpha$/),
      first,
      expect.stringMatching(/of gamma$/),
    ]);
    expect(fake.calls).toBe(3);
    const result = await llm.generate(['alpha', 'delta']);
    expect(result.generations.map((g) => g[0]?.generationInfo?.strata)).toEqual([
      expect.objectContaining({ hit: true, tier: 'memory' }),
      { hit: false },
    ]);
    const chunks: string[] = [];
    for await (const chunk of await llm.stream('streamed')) chunks.push(chunk);
    const again: string[] = [];
    for await (const chunk of await llm.stream('streamed')) again.push(chunk);
    expect(again.join('')).toBe(chunks.join(''));
    expect(again.length).toBeGreaterThan(1);
    expect(fake.calls).toBe(5);
    await expect(
      llm.invoke('never', { configurable: { cache: { mode: 'only-if-cached' } } }),
    ).rejects.toThrow(CacheMissError);
  });

  it('a chat model without streaming: a miss streams its whole answer, which is stored and replayed', async () => {
    const cache = await createCache({ tiers: [{ type: 'memory' }] });
    opened.push(cache);
    const fake = new NonStreamingChat({});
    const model = withCache(fake, cache);
    const first = await collect(await model.stream('tell me everything'));
    const second = await collect(await model.stream('tell me everything'));
    expect(fake.calls).toBe(1);
    expect(second.final.content).toBe(first.final.content);
    expect(second.chunks.length).toBeGreaterThan(1);
  });
});
