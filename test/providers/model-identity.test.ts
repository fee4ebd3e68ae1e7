/**
 * Never answer one model with another's words, for every chat model and LLM class of the
 * provider packages that install here (test/support/provider-classes.ts: 18 packages).
 *
 * Each class is configured as its users configure it; only its network call is replaced (the
 * instance's `_generate` answers with words that name the configuration that produced them).
 * For every dimension a user can set (model, temperature, endpoint, region), a first instance
 * answers and is cached; a second instance that differs in that one dimension must get its own
 * answer:
 * - through withCache, always;
 * - through `cache.attach(model)`, always;
 * - through LangChain's plain `cache` option, either its own answer or a refusal that says so
 *   (counted in stats().unidentified, one warning naming the class and the fix).
 * A third instance configured like the first must get the first one's answer (a hit): the
 * identity is stable across instances, as across processes.
 */
import { AIMessage } from '@langchain/core/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StrataCache } from '../../src/langchain/cache.js';
import { createCache } from '../../src/langchain/create.js';
import { withCache } from '../../src/langchain/with-cache.js';
import {
  changed,
  type Dimension,
  PROVIDER_CLASSES,
  type ProviderClass,
  rotated,
  type Variant,
} from '../support/provider-classes.js';

type AnyModel = {
  cache?: unknown;
  invoke(input: string): Promise<unknown>;
  generate(inputs: string[]): Promise<{ generations: Array<Array<{ text: string }>> }>;
  _generate: unknown;
};

let cache: StrataCache;
const warnings: string[] = [];
beforeAll(async () => {
  cache = await createCache({ tiers: [{ type: 'memory' }] }, { logger: { warn: (m) => warnings.push(m) } });
});
afterAll(async () => {
  await cache.close();
});

/** A configuration's own words: what its (replaced) network call answers. */
const wordsOf = (v: Variant) => `answer of ${v.model} at t=${v.temperature} via ${v.endpoint} in ${v.region}`;

/** An instance of the class, with only its network call replaced. */
async function instance(c: ProviderClass, v: Variant): Promise<AnyModel> {
  const model = (await c.make(v)) as unknown as AnyModel;
  const text = wordsOf(v);
  model._generate =
    c.kind === 'chat'
      ? async () => ({ generations: [{ text, message: new AIMessage(text) }] })
      : async (prompts: string[]) => ({ generations: prompts.map(() => [{ text }]) });
  return model;
}

/**
 * One call as users make it: invoke for chat models; for LLMs generate, because some LLM classes
 * (GoogleLLM, VertexAI) answer invoke from a stream that never consults a cache.
 */
async function ask(model: AnyModel, kind: ProviderClass['kind']): Promise<string> {
  if (kind === 'llm') return (await model.generate(['Which model are you?'])).generations[0]![0]!.text;
  return String(((await model.invoke('Which model are you?')) as AIMessage).content);
}

type Way = 'withCache' | 'attach' | 'plain';
async function connected(c: ProviderClass, v: Variant, way: Way, view: StrataCache) {
  const model = await instance(c, v);
  if (way === 'withCache') return withCache(model as never, view) as unknown as AnyModel;
  if (way === 'attach') return view.attach(model as never) as AnyModel;
  model.cache = view;
  return model;
}

const cases = PROVIDER_CLASSES.flatMap((c) => c.dimensions.map((d) => [c.name, d, c] as const));

describe.each(['withCache', 'attach', 'plain'] as const)('%s', (way) => {
  it.each(cases)('%s: two instances differing in %s never share an answer', async (_name, dimension, c) => {
    const view = cache.withNamespace(`${way}:${c.name}:${dimension}`);
    const first = c.base;
    const second = changed(first, dimension as Dimension);
    const before = (await cache.stats()).unidentified;
    expect(await ask(await connected(c, first, way, view), c.kind)).toBe(wordsOf(first));
    expect(await ask(await connected(c, second, way, view), c.kind)).toBe(wordsOf(second));
    const same = await ask(await connected(c, first, way, view), c.kind);
    const refused = (await cache.stats()).unidentified > before;
    if (way === 'plain' && refused) {
      // Refused: the model answered itself, and the class was named once with the fix.
      expect(same).toBe(wordsOf(first));
      expect(warnings.some((w) => w.includes('cache.attach('))).toBe(true);
    } else {
      // Cached: a third instance configured like the first is answered from the cache.
      expect(same).toBe(wordsOf(first));
      const hits = (await cache.stats()).hits;
      await ask(await connected(c, first, way, view), c.kind);
      expect((await cache.stats()).hits).toBe(hits + 1);
    }
  });
});

describe.each(['withCache', 'attach'] as const)('%s', (way) => {
  it.each(PROVIDER_CLASSES.map((c) => [c.name, c] as const))(
    '%s: a rotated credential keeps its answers',
    async (_name, c) => {
      const view = cache.withNamespace(`rotation:${way}:${c.name}`);
      await ask(await connected(c, c.base, way, view), c.kind);
      const hits = (await cache.stats()).hits;
      // Answered from the cache: the model's (replaced) network call would name the same words.
      expect(await ask(await connected(c, rotated(c.base), way, view), c.kind)).toBe(wordsOf(c.base));
      expect((await cache.stats()).hits).toBe(hits + 1);
    },
  );
});

/**
 * Which classes the plain `cache` option refuses (their llmKey does not establish the model):
 * printed for the README's list and checked against it, so the list cannot go stale.
 */
it('the README lists exactly the classes the plain cache option refuses', async () => {
  const { readFileSync } = await import('node:fs');
  const { unidentifiedModel } = await import('../../src/langchain/model-identity.js');
  const refused: string[] = [];
  for (const c of PROVIDER_CLASSES) {
    const model = (await c.make(c.base)) as unknown as {
      _getSerializedCacheKeyParametersForCall(o: object): string;
    };
    if (unidentifiedModel(model._getSerializedCacheKeyParametersForCall({})) !== undefined)
      refused.push(c.name.split(' ').slice(1).join(' '));
  }
  const readme = readFileSync(new URL('../../docs/langchain.md', import.meta.url), 'utf8');
  const listed = readme.match(/<!-- refused-classes -->([\s\S]*?)<!-- \/refused-classes -->/)?.[1] ?? '';
  const names = [...listed.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  expect(names.sort()).toEqual([...new Set(refused)].sort());
});
