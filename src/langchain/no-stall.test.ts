/**
 * A miss that nothing answers must not make the next caller wait: every case issue 13 saw
 * stalling for coalesceWaitMs (15 s) answers at once now. The default coalesceWaitMs is kept, so
 * a stall would show as a 15 s call; each case asserts the key is no longer held (nothing in
 * flight) and a bound far below the stall.
 */
import { AIMessageChunk } from '@langchain/core/messages';
import { ChatGenerationChunk } from '@langchain/core/outputs';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { timed } from '../../test/support/timed.js';
import { CacheMissError } from '../errors.js';
import type { StrataCache } from './cache.js';
import { createCache } from './create.js';
import { SimulatedChatModel } from './simulated-model.js';
import { withCache } from './with-cache.js';

/** Well below the 15 s stall, well above anything this machine takes for an in-memory call. */
const NO_STALL_MS = 1_000;

const caches: StrataCache[] = [];
async function memoryCache(): Promise<StrataCache> {
  const cache = await createCache({ tiers: [{ type: 'memory' }] });
  caches.push(cache);
  return cache;
}
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

/** Streams its answer a word at a time, as providers do. */
class WordStreamer extends FakeListChatModel {
  override async *_streamResponseChunks() {
    for (const word of 'many words streamed one by one to a reader who leaves'.split(' ')) {
      await new Promise((r) => setTimeout(r, 1));
      yield new ChatGenerationChunk({ text: `${word} `, message: new AIMessageChunk(`${word} `) });
    }
  }
}

const inFlight = async (cache: StrataCache) => (await cache.stats()).inFlight;

describe('no stall after a miss that nothing answers (plain BaseCache)', () => {
  it('two invokes on a no-store view: neither holds the key', async () => {
    const cache = await memoryCache();
    const model = new FakeListChatModel({
      responses: ['a', 'b'],
      cache: cache.withOptions({ mode: 'no-store' }),
    });
    await model.invoke('hello');
    expect(await inFlight(cache)).toBe(0);
    const second = await timed(() => model.invoke('hello'));
    expect(second.value?.content).toBe('b');
    expect(second.ms).toBeLessThan(NO_STALL_MS);
  });

  it('only-if-cached twice: both reject with CacheMissError at once, and hold nothing', async () => {
    const cache = await memoryCache();
    const model = new FakeListChatModel({
      responses: ['a'],
      cache: cache.withOptions({ mode: 'only-if-cached' }),
    });
    for (let i = 0; i < 2; i++) {
      const call = await timed(() => model.invoke('hello'));
      expect(call.error).toBeInstanceOf(CacheMissError);
      expect(call.ms).toBeLessThan(NO_STALL_MS);
    }
    expect(await inFlight(cache)).toBe(0);
  });

  it('a failed model call retried at once, after five successful 100 ms calls, waits at most a few of their lengths', async () => {
    const cache = await memoryCache();
    const model = new SimulatedChatModel({ latencyMs: 100, cache });
    for (let i = 0; i < 5; i++) await model.invoke(`warm-up question ${i}`);
    model.failWith = '429 Too Many Requests';
    await expect(model.invoke('the question that fails first')).rejects.toThrow(/429/);
    model.failWith = undefined;
    const retry = await timed(() => model.invoke('the question that fails first'));
    expect(retry.error).toBeUndefined();
    expect(retry.ms).toBeLessThan(NO_STALL_MS);
  });

  it('cache.release lets the next caller go at once, even before any call was measured', async () => {
    const cache = await memoryCache();
    const llmKey = 'model:"m"';
    expect(await cache.lookup('p', llmKey)).toBeNull(); // this caller now leads the key
    cache.release('p', llmKey);
    const next = await timed(() => cache.lookup('p', llmKey));
    expect(next.value).toBeNull();
    expect(next.ms).toBeLessThan(NO_STALL_MS);
  });
});

describe('no stall after a miss that nothing answers (withCache)', () => {
  it('per-call no-store: the next call goes at once and nothing is stored', async () => {
    const cache = await memoryCache();
    const inner = new FakeListChatModel({ responses: ['a', 'b', 'c'] });
    const model = withCache(inner, cache);
    const noStore = { configurable: { cache: { mode: 'no-store' as const } } };
    await model.invoke('hello', noStore);
    const second = await timed(() => model.invoke('hello', noStore));
    expect(second.ms).toBeLessThan(NO_STALL_MS);
    const third = await timed(() => model.invoke('hello'));
    expect(third.value?.content).toBe('c');
    expect(third.ms).toBeLessThan(NO_STALL_MS);
  });

  it('a retry after a model error goes at once and stores the answer', async () => {
    const cache = await memoryCache();
    const inner = new SimulatedChatModel({ latencyMs: 20, failWith: '429 Too Many Requests' });
    const model = withCache(inner, cache);
    await expect(model.invoke('why did it fail?')).rejects.toThrow(/429/);
    expect(await inFlight(cache)).toBe(0);
    inner.failWith = undefined;
    const retry = await timed(() => model.invoke('why did it fail?'));
    expect(retry.error).toBeUndefined();
    expect(retry.ms).toBeLessThan(NO_STALL_MS);
    expect((await model.invoke('why did it fail?')).response_metadata.strata).toMatchObject({ hit: true });
  });

  it('a stream the consumer stops reading releases the key', async () => {
    const cache = await memoryCache();
    const model = withCache(new SimulatedChatModel({ latencyMs: 5 }), cache);
    for await (const _ of await model.stream('stop reading after one chunk')) break;
    expect(await inFlight(cache)).toBe(0);
    const next = await timed(() => model.invoke('stop reading after one chunk'));
    expect(next.ms).toBeLessThan(NO_STALL_MS);
    expect(next.value?.response_metadata.strata).toMatchObject({ hit: false });
  });

  it('a stream whose iterator is dropped unclosed releases the key once it sits unread', async () => {
    const cache = await memoryCache();
    const model = withCache(
      new WordStreamer({ responses: ['many words streamed one by one to a reader who leaves'] }),
      cache,
    );
    const iterator = (await model.stream('dropped mid-stream'))[Symbol.asyncIterator]();
    await iterator.next(); // read one chunk, then never again, and never return()
    const next = await timed(() => model.invoke('dropped mid-stream'));
    expect(next.error).toBeUndefined();
    expect(next.ms).toBeLessThan(NO_STALL_MS);
  });

  it('a stream aborted while the consumer reads it releases the key', async () => {
    const cache = await memoryCache();
    const model = withCache(new SimulatedChatModel({ latencyMs: 5 }), cache);
    const controller = new AbortController();
    const stream = await model.stream('aborted while read', { signal: controller.signal });
    await expect(
      (async () => {
        for await (const _ of stream) controller.abort();
      })(),
    ).rejects.toThrow();
    const next = await timed(() => model.invoke('aborted while read'));
    expect(next.ms).toBeLessThan(NO_STALL_MS);
    expect(next.value?.response_metadata.strata).toMatchObject({ hit: false });
  });

  it('waiters on a failed call: one of them calls the model, the others get its answer', async () => {
    const cache = await memoryCache();
    /** Its first call fails after 100 ms, every later one answers. */
    class FailsFirst extends SimulatedChatModel {
      override async _generate(...args: Parameters<SimulatedChatModel['_generate']>) {
        if (this.calls > 0) return super._generate(...args);
        this.calls++;
        await new Promise((r) => setTimeout(r, 100));
        throw new Error('503 Service Unavailable');
      }
    }
    const inner = new FailsFirst({ latencyMs: 100 });
    const model = withCache(inner, cache);
    const first = model.invoke('herd after a failure');
    await new Promise((r) => setTimeout(r, 20));
    const waiters = Array.from({ length: 10 }, () => model.invoke('herd after a failure'));
    await expect(first).rejects.toThrow(/503/);
    const answers = await Promise.all(waiters);
    expect(inner.calls).toBe(2); // the failed one, and one for all ten waiters
    expect(new Set(answers.map((a) => a.content)).size).toBe(1);
  });

  it('100 concurrent identical misses still make one model call', async () => {
    const cache = await memoryCache();
    const inner = new SimulatedChatModel({ latencyMs: 100 });
    const model = withCache(inner, cache);
    await Promise.all(Array.from({ length: 100 }, () => model.invoke('one call for all')));
    expect(inner.calls).toBe(1);
  });
});
