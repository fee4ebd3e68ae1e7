/**
 * LangChain's plain `cache` option never tells a BaseCache that a model call failed, and looks
 * up every prompt of a batch before it calls the model. Each sequence a new user saw stall for
 * 15 s (issue 26) runs here twice: on a model whose llmKey Strata trusts as it is (its waits are
 * bounded by the model's measured miss time, and a fresh process waits for nothing), and on a
 * model given to `cache.attach` (its failures are reported by its callbacks, so waiters are
 * released at once). coalesceWaitMs keeps its 15 s default, so a stall would show as a 15 s call;
 * each call is checked against a bound far below it, and the model calls against what LangChain
 * itself makes without a cache.
 */
import { HumanMessage } from '@langchain/core/messages';
import { afterEach, describe, expect, it } from 'vitest';
import { timed } from '../../test/support/timed.js';
import type { StrataCache } from './cache.js';
import { createCache } from './create.js';
import { SimulatedChatModel } from './simulated-model.js';

/** Well below the 15 s stall, well above anything this machine takes for an in-memory call. */
const NO_STALL_MS = 1_000;

const caches: StrataCache[] = [];
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
});
async function memoryCache(): Promise<StrataCache> {
  const cache = await createCache({ tiers: [{ type: 'memory' }] }, { logger: { warn: () => {} } });
  caches.push(cache);
  return cache;
}

/** A model whose calls fail while `failing` says so for their question. */
class Flaky extends SimulatedChatModel {
  failing: (question: string) => boolean = () => false;
  override async _generate(...args: Parameters<SimulatedChatModel['_generate']>) {
    const question = String(args[0].at(-1)?.content ?? '');
    if (this.failing(question)) {
      this.calls++;
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('429 Too Many Requests');
    }
    return super._generate(...args);
  }
}

const ways = [
  ['plain cache option', (cache: StrataCache, model: Flaky) => Object.assign(model, { cache })],
  ['cache.attach(model)', (cache: StrataCache, model: Flaky) => cache.attach(model)],
] as const;

describe.each(ways)('no stall on the plain path: %s', (_name, connect) => {
  async function setup(latencyMs = 10) {
    const cache = await memoryCache();
    const model = connect(cache, new Flaky({ latencyMs }));
    return { cache, model };
  }

  it('a fresh process: the same prompt twice in one batch makes LangChain`s two calls at once', async () => {
    const { model } = await setup();
    const message = [new HumanMessage('twice in one batch')];
    const call = await timed(() => model.generate([message, message]));
    expect(call.error).toBeUndefined();
    expect(call.ms).toBeLessThan(NO_STALL_MS);
    expect(model.calls).toBe(2);
    expect(call.value?.generations.map((g) => g[0]?.text.length)).toEqual([
      expect.any(Number),
      expect.any(Number),
    ]);
  });

  it('a measured model: the same prompt twice in one batch still does not wait for itself', async () => {
    const { model } = await setup(50);
    for (let i = 0; i < 4; i++) await model.invoke(`warm-up ${i}`);
    const message = [new HumanMessage('twice after warm-up')];
    const call = await timed(() => model.generate([message, message]));
    expect(call.error).toBeUndefined();
    // Two 50 ms calls in parallel; a wait for itself would add the measured time or more.
    expect(call.ms).toBeLessThan(NO_STALL_MS);
    expect(model.calls).toBe(6);
  });

  it('a fresh process: a retry after a 429 goes at once', async () => {
    const { model } = await setup();
    model.failing = () => true;
    await expect(model.invoke('fails first')).rejects.toThrow(/429/);
    model.failing = () => false;
    const retry = await timed(() => model.invoke('fails first'));
    expect(retry.error).toBeUndefined();
    expect(retry.ms).toBeLessThan(NO_STALL_MS);
    expect(model.calls).toBe(2);
  });

  it('withRetry: the second attempt adds no wait beyond LangChain`s own backoff (fresh process)', async () => {
    // LangChain backs off about a second before a retry: measured here without a cache.
    const bare = new Flaky({ latencyMs: 10 });
    let bareAttempts = 0;
    bare.failing = () => bareAttempts++ === 0;
    const baseline = await timed(() =>
      bare.withRetry({ stopAfterAttempt: 2 }).invoke('retried by LangChain'),
    );
    const { cache, model } = await setup();
    let attempts = 0;
    model.failing = () => attempts++ === 0;
    const call = await timed(() => model.withRetry({ stopAfterAttempt: 2 }).invoke('retried by LangChain'));
    expect(call.error).toBeUndefined();
    expect((await cache.stats()).coalesced).toBe(0); // the retry waited for no other caller
    expect(call.ms).toBeLessThan(baseline.ms + NO_STALL_MS);
    expect(model.calls).toBe(2);
  });

  it('withFallbacks: the fallback model answers at once', async () => {
    const { cache, model } = await setup();
    model.failing = () => true;
    const fallback = connect(cache, new Flaky({ latencyMs: 10, model: 'the-fallback' }));
    const call = await timed(() => model.withFallbacks([fallback]).invoke('primary is down'));
    expect(call.error).toBeUndefined();
    expect(call.ms).toBeLessThan(NO_STALL_MS);
    expect(fallback.calls).toBe(1);
  });

  it('10 concurrent callers after a failure: none waits, no more calls than LangChain makes', async () => {
    const { model } = await setup();
    model.failing = () => true;
    await expect(model.invoke('herd')).rejects.toThrow(/429/);
    model.failing = () => false;
    const calls = await Promise.all(Array.from({ length: 10 }, () => timed(() => model.invoke('herd'))));
    for (const call of calls) {
      expect(call.error).toBeUndefined();
      expect(call.ms).toBeLessThan(NO_STALL_MS);
    }
    expect(model.calls).toBeLessThanOrEqual(11);
    expect(new Set(calls.map((c) => c.value?.content)).size).toBeGreaterThan(0);
  });

  it('a measured model: one failure after another does not lengthen the next wait', async () => {
    const { model } = await setup(200);
    for (let i = 0; i < 3; i++) await model.invoke(`warm-up ${i}`);
    for (let round = 0; round < 6; round++) {
      model.failing = () => true;
      await expect(model.invoke(`failing ${round}`)).rejects.toThrow(/429/);
      model.failing = () => false;
      // At most the measured wait (one 200 ms call) plus the retry's own 200 ms call.
      const retry = await timed(() => model.invoke(`failing ${round}`));
      expect(retry.error).toBeUndefined();
      expect(retry.ms, `round ${round}`).toBeLessThan(NO_STALL_MS);
    }
  });

  it('a measured model: a retry after a failure waits at most the model`s measured time', async () => {
    const { model } = await setup(100);
    for (let i = 0; i < 4; i++) await model.invoke(`warm-up ${i}`);
    model.failing = () => true;
    await expect(model.invoke('fails after warm-up')).rejects.toThrow(/429/);
    model.failing = () => false;
    const retry = await timed(() => model.invoke('fails after warm-up'));
    expect(retry.error).toBeUndefined();
    expect(retry.ms).toBeLessThan(NO_STALL_MS);
  });
});

describe('cache.attach(model): what the plain option cannot do', () => {
  it('a batch with one failed item keeps the answers of the others, each at its own position', async () => {
    const cache = await memoryCache();
    const model = cache.attach(new Flaky({ latencyMs: 5 }));
    model.failing = (q) => q === 'the bad one';
    const questions = ['first good', 'the bad one', 'second good'];
    const batch = questions.map((q) => [new HumanMessage(q)]);
    await expect(model.generate(batch)).rejects.toThrow(/429/);
    expect(model.calls).toBe(3);
    expect((await cache.stats()).updates).toBe(2);
    model.failing = () => false;
    const again = await timed(() => model.generate(batch));
    expect(again.ms).toBeLessThan(NO_STALL_MS);
    // LangChain misplaces a hit that follows a miss in its batch (batch-answers.ts): the first
    // good one is served from the cache, the bad one and the hit after it go to the model.
    expect(model.calls).toBe(5);
    const texts = again.value!.generations.map((g) => g[0]!.text);
    for (const [i, q] of questions.entries()) expect(texts[i]).toContain(q);
    expect((await cache.stats()).inFlight).toBe(0);
  });

  it('a batch whose cached prompts follow an uncached one gets every answer at its own position', async () => {
    const cache = await memoryCache();
    for (const model of [
      cache.attach(new Flaky({ latencyMs: 1 })),
      Object.assign(new Flaky({ latencyMs: 1, model: 'plain' }), { cache }),
    ]) {
      await model.invoke('Capital of Spain?');
      await model.invoke('Capital of Italy?');
      const questions = ['Capital of France?', 'Capital of Spain?', 'Capital of Italy?'];
      const result = await model.generate(questions.map((q) => [new HumanMessage(q)]));
      const texts = result.generations.map((g) => g[0]?.text);
      for (const [i, q] of questions.entries()) expect(texts[i]).toContain(q.replace('Capital of ', ''));
    }
  });

  it('100 concurrent identical invokes make one model call; a failed leader hands over at once', async () => {
    const cache = await memoryCache();
    const model = cache.attach(new Flaky({ latencyMs: 50 }));
    let failures = 1;
    model.failing = () => failures-- > 0;
    const calls = await Promise.all(Array.from({ length: 100 }, () => timed(() => model.invoke('one call'))));
    const failed = calls.filter((c) => c.error);
    expect(failed).toHaveLength(1);
    for (const call of calls) expect(call.ms).toBeLessThan(NO_STALL_MS);
    // The failed call, and one for the 99 that waited.
    expect(model.calls).toBe(2);
  });

  it('an answer is written once, not once by the run and again by LangChain', async () => {
    const cache = await memoryCache();
    const model = cache.attach(new Flaky({ latencyMs: 1 }));
    let sets = 0;
    cache.on('set', () => sets++);
    await model.invoke('written once');
    await model.generate([[new HumanMessage('a')], [new HumanMessage('b')]]);
    expect(sets).toBe(3);
    expect((await cache.stats()).updates).toBe(3);
  });
});
