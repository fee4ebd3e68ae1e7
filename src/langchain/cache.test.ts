import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { StrataConfigError } from '../errors.js';
import type { StrataCache } from './cache.js';
import { createCache } from './create.js';
import { SimulatedChatModel } from './simulated-model.js';

const dirs: string[] = [];
const caches: StrataCache[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-lc-'));
  dirs.push(dir);
  return dir;
}
async function memoryCache(): Promise<StrataCache> {
  const cache = await createCache({ tiers: [{ type: 'memory' }] });
  caches.push(cache);
  return cache;
}
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('StrataCache with LangChain models', () => {
  it('returns the cached answer on the second invoke', async () => {
    const cache = await memoryCache();
    const model = cache.attach(new FakeListChatModel({ responses: ['first', 'second'] }));
    expect((await model.invoke('hello')).content).toBe('first');
    expect((await model.invoke('hello')).content).toBe('first');
    expect((await model.invoke('another')).content).toBe('second');
  });

  it('keeps withNamespace views apart while sharing the tiers', async () => {
    const cache = await memoryCache();
    const a = cache.withNamespace('tenant-a');
    const b = cache.withNamespace('tenant-b');
    const modelA = a.attach(new FakeListChatModel({ responses: ['for A'] }));
    const modelB = b.attach(new FakeListChatModel({ responses: ['for B'] }));
    expect((await modelA.invoke('same question')).content).toBe('for A');
    expect((await modelB.invoke('same question')).content).toBe('for B');
    expect((await modelA.invoke('same question')).content).toBe('for A');
    expect((await modelB.invoke('same question')).content).toBe('for B');
    const stats = await cache.stats();
    expect(stats.tiers[0]?.store?.entries).toBe(2);
    expect(await a.clear()).toBe(1);
    expect((await cache.stats()).tiers[0]?.store?.entries).toBe(1);
    const llmKey = modelB._getSerializedCacheKeyParametersForCall({});
    const viewB = modelB.cache as StrataCache;
    expect(await viewB.withNamespace('tenant-a').lookup('Human: same question', llmKey)).toBeNull();
    expect((await viewB.lookup('Human: same question', llmKey))?.[0]?.text).toBe('for B');
  });

  it('makes one model call for 100 concurrent identical invokes of an attached model', async () => {
    const cache = await memoryCache();
    const model = cache.attach(new SimulatedChatModel({ latencyMs: 200 }));
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => model.invoke('What is the capital of France?')),
    );
    expect(model.calls).toBe(1);
    expect(new Set(answers.map((a) => a.content)).size).toBe(1);
    expect((await cache.stats()).coalesced).toBe(99);
  });

  it('generate() with one prompt twice in a batch does not wait for itself, and has both answers', async () => {
    // LangChain awaits every lookup of a batch before calling the model, so the duplicate cannot
    // be given the first one's answer: it must not wait for it (no-stall.test.ts times this).
    const cache = await createCache({ tiers: [{ type: 'memory' }] });
    caches.push(cache);
    const model = new SimulatedChatModel({ cache });
    const message = [new HumanMessage('twice in one batch')];
    const result = await model.generate([message, message]);
    expect(result.generations.map((g) => g[0]?.text.length)).toEqual([
      expect.any(Number),
      expect.any(Number),
    ]);
    expect(model.calls).toBe(2);
  });

  it('never lets a caller change what the next hit returns', async () => {
    const cache = await memoryCache();
    const model = new SimulatedChatModel({ cache });
    const first = await model.invoke('mutable?');
    const second = await model.invoke('mutable?');
    expect(second.content).toBe(first.content);
    second.content = 'vandalized';
    (second as AIMessage).response_metadata.finish_reason = 'vandalized';
    const third = await model.invoke('mutable?');
    expect(third.content).toBe(first.content);
    expect((third as AIMessage).response_metadata.finish_reason).toBe('stop');
    const raw = await cache.lookup('Human: mutable?', model._getSerializedCacheKeyParametersForCall({}));
    raw![0]!.text = 'changed';
    expect(
      (await cache.lookup('Human: mutable?', model._getSerializedCacheKeyParametersForCall({})))![0]!.text,
    ).not.toBe('changed');
  });

  it('update never throws, whatever LangChain hands it; bad view options name the field', async () => {
    const cache = await memoryCache();
    await expect(cache.update('p', 'llm', null as never)).resolves.toBeUndefined();
    await expect(cache.update('p', 'llm', { length: 1 } as never)).resolves.toBeUndefined();
    expect((await cache.stats()).updates).toBe(0);
    expect(() => cache.withNamespace('')).toThrow(StrataConfigError);
    expect(() => cache.withNamespace('')).toThrow(/withNamespace: must be 1-256 characters/);
    expect(() => cache.withOptions({ ttlSeconds: -1 })).toThrow(StrataConfigError);
    expect(() => cache.attach({} as never)).toThrow(/attach: expects a LangChain chat model/);
  });

  it('keeps tool calls, usage and response metadata, and generationInfo', async () => {
    const cache = await memoryCache();
    const message = new AIMessage({
      content: '',
      tool_calls: [
        { name: 'get_weather', args: { city: '北京', unit: 'C' }, id: 'call_9', type: 'tool_call' },
      ],
      usage_metadata: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
      response_metadata: { model_name: 'm', finish_reason: 'tool_calls' },
    });
    await cache.update('p', 'llm', [
      { text: '', message, generationInfo: { finish_reason: 'tool_calls' } } as never,
    ]);
    const [hit] = (await cache.lookup('p', 'llm'))! as unknown as Array<{
      message: AIMessage;
      generationInfo: unknown;
    }>;
    expect(hit!.message).toBeInstanceOf(AIMessage);
    expect(hit!.message.tool_calls).toEqual(message.tool_calls);
    expect(hit!.message.usage_metadata).toEqual(message.usage_metadata);
    expect(hit!.message.response_metadata).toMatchObject({ finish_reason: 'tool_calls' });
    expect(hit!.generationInfo).toEqual({ finish_reason: 'tool_calls' });
  });

  it('hands every lookup its own objects: changing one hit never reaches the next', async () => {
    // The engine shares one decoded answer between hits (core/decoded.ts); the adapter builds
    // each caller's generations from it and must copy whatever LangChain's objects keep.
    const dir = tempDir();
    for (const tiers of [[{ type: 'memory' }], [{ type: 'sqlite', path: join(dir, 'fresh.db') }]] as const) {
      const cache = await createCache({ tiers: [...tiers] });
      caches.push(cache);
      const stored = () =>
        new AIMessage({
          content: '查询天气',
          tool_calls: [{ name: 'get_weather', args: { city: '北京' }, id: 'call_1', type: 'tool_call' }],
          usage_metadata: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
          response_metadata: { model_name: 'm', finish_reason: 'tool_calls', nested: { a: [1] } },
          additional_kwargs: { refusal: null, extra: { deep: ['x'] } },
        });
      await cache.update('p', 'llm', [
        {
          text: '查询天气',
          message: stored(),
          generationInfo: { finish_reason: 'tool_calls', logprobs: { n: [1] } },
        } as never,
      ]);
      type Gen = { message: AIMessage; generationInfo: Record<string, unknown> };
      const first = ((await cache.lookup('p', 'llm')) as unknown as Gen[])[0]!;
      const withInfo = ((await cache.lookupWithInfo('p', 'llm'))!.generations as unknown as Gen[])[0]!;
      for (const g of [first, withInfo]) {
        g.message.tool_calls![0]!.args.city = 'changed';
        (g.message.response_metadata.nested as { a: number[] }).a.push(2);
        (g.message.additional_kwargs.extra as { deep: string[] }).deep[0] = 'changed';
        g.message.usage_metadata!.input_tokens = 999;
        (g.message.lc_kwargs as Record<string, unknown>).content = 'changed';
        (g.generationInfo.logprobs as { n: number[] }).n.push(2);
        g.generationInfo.finish_reason = 'changed';
      }
      const again = ((await cache.lookup('p', 'llm')) as unknown as Gen[])[0]!;
      const expected = stored();
      expect(again.message.tool_calls).toEqual(expected.tool_calls);
      expect(again.message.response_metadata).toMatchObject(expected.response_metadata);
      expect(again.message.additional_kwargs).toEqual(expected.additional_kwargs);
      expect(again.message.usage_metadata).toEqual(expected.usage_metadata);
      expect(again.message.content).toBe('查询天气');
      expect((again.message.lc_kwargs as Record<string, unknown>).content).toBe('查询天气');
      expect(again.generationInfo).toEqual({ finish_reason: 'tool_calls', logprobs: { n: [1] } });
      expect(again.message).not.toBe(first.message);
    }
  });

  it('never writes an API key from the llmKey to the SQLite file', async () => {
    const dir = tempDir();
    const secret = 'sk-live-0123456789abcdefghijklmnopqrstuvwxyz';
    const cache = await createCache({
      tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'c.db') }],
    });
    const model = new SimulatedChatModel({ apiKey: secret, cache });
    expect(model._getSerializedCacheKeyParametersForCall({})).toContain(secret);
    await model.invoke('Tell me a secret');
    const rotated = new SimulatedChatModel({ apiKey: 'sk-live-rotatedrotatedrotatedrotated00', cache });
    await rotated.invoke('Tell me a secret');
    expect(rotated.calls).toBe(0);
    await cache.close();
    const files = readdirSync(dir);
    expect(files.some((f) => f.endsWith('.db'))).toBe(true);
    for (const file of files) expect(readFileSync(join(dir, file)).includes(secret)).toBe(false);
    const stored = readFileSync(join(dir, 'c.db'));
    expect(stored.includes('Tell me a secret')).toBe(true);
  });

  it('with storePrompt: false keeps no prompt text, yet hits and can be inspected by prompt', async () => {
    const dir = tempDir();
    const path = join(dir, 'c.db');
    const cache = await createCache({ storePrompt: false, tiers: [{ type: 'sqlite', path }] });
    const model = new SimulatedChatModel({ cache });
    const first = await model.invoke('my confidential question about payroll');
    const second = await model.invoke('my confidential question about payroll');
    expect(second.content).toBe(first.content);
    expect(model.calls).toBe(1);
    const { main } = await import('../cli/main.js');
    const out: string[] = [];
    writeFileSync(
      join(dir, 'strata.config.json'),
      JSON.stringify({ storePrompt: false, tiers: [{ type: 'sqlite', path }] }),
    );
    await cache.close();
    const io = { out: (l: string) => out.push(l), err: () => {}, interactive: false };
    await main(
      [
        'inspect',
        'Human: my confidential question about payroll',
        '--config',
        join(dir, 'strata.config.json'),
      ],
      io,
    );
    expect(out[0]).toBe('sqlite: live');
    // The simulated answer echoes the question's words, so look for the prompt as LangChain formats it.
    for (const file of readdirSync(dir))
      expect(readFileSync(join(dir, file)).includes('Human: my confidential')).toBe(false);
  });

  it('stores tags and TTL set with withOptions, and invalidates by tag', async () => {
    const cache = await memoryCache();
    const tagged = cache.withOptions({ tags: ['pricing'], ttlSeconds: 60, metadata: { source: 'test' } });
    const model = new SimulatedChatModel({ cache: tagged });
    const plain = new SimulatedChatModel({ cache });
    await model.invoke('price of plan A?');
    await plain.invoke('opening hours?');
    expect(await cache.invalidateTag('pricing')).toBe(1);
    await model.invoke('price of plan A?');
    await plain.invoke('opening hours?');
    expect(model.calls).toBe(2);
    expect(plain.calls).toBe(1);
    expect(() => cache.withOptions({ ttlSeconds: -1 })).toThrow(/withOptions.ttlSeconds/);
    expect(() => cache.withOptions({ ttlSeconds: 1e12 })).toThrow(/withOptions.ttlSeconds.*10 years/);
    expect(() => cache.withOptions({ ttlSeconds: Number.POSITIVE_INFINITY })).toThrow(
      /withOptions.ttlSeconds/,
    );
  });

  it('emits hit, miss and set events', async () => {
    const cache = await memoryCache();
    const seen: string[] = [];
    cache.on('miss', () => seen.push('miss'));
    cache.on('set', (e) => seen.push(`set:${e.tiers.join('+')}`));
    cache.on('hit', (e) => seen.push(`hit:${e.tier}`));
    const model = new SimulatedChatModel({ cache });
    await model.invoke('events?');
    await model.invoke('events?');
    expect(seen).toEqual(['miss', 'set:memory', 'hit:memory']);
  });

  it('deletes one entry', async () => {
    const cache = await memoryCache();
    await cache.update('p', 'llm', [{ text: 'x' }]);
    expect(await cache.delete('p', 'llm')).toBe(1);
    expect(await cache.lookup('p', 'llm')).toBeNull();
  });

  it('keeps a model working when the only tier cannot be written', async () => {
    const dir = tempDir();
    const cache = await createCache(
      { tiers: [{ type: 'sqlite', path: join(dir, 'c.db') }] },
      { logger: { warn: () => {} } },
    );
    caches.push(cache);
    const sqlite = cache.strata.tier('sqlite')!;
    await sqlite.close(); // every later call on it throws
    const model = new SimulatedChatModel({ cache });
    await expect(model.invoke('still works?')).resolves.toBeDefined();
    await expect(model.invoke('still works?')).resolves.toBeDefined();
    expect(model.calls).toBe(2);
    expect((await cache.health()).status).toBe('down');
  });
});
