/**
 * A hit never throws into the model call: an entry LangChain cannot turn into what the model
 * returns (written by another version or client, or crafted and imported) is a miss, counted as
 * corrupt, deleted, never backfilled; the model answers instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HumanMessage } from '@langchain/core/messages';
import { StringOutputParser } from '@langchain/core/output_parsers';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ENTRY_VERSION, encodeEntry, type StoredGenerationData } from '../core/entry.js';
import type { CacheKey } from '../core/key.js';
import type { StrataCache } from './cache.js';
import { createCache } from './create.js';
import { withCache } from './with-cache.js';

const dirs: string[] = [];
const caches: StrataCache[] = [];
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function twoTiers(): Promise<StrataCache> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-usable-'));
  dirs.push(dir);
  const cache = await createCache(
    { tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'c.db') }] },
    { logger: { warn: () => {} } },
  );
  caches.push(cache);
  return cache;
}

/** Files `gens` under the key the model will ask for, in the named tier only. */
function plant(cache: StrataCache, tier: string, prompt: string, llmKey: string, gens: unknown[]) {
  return plantUnder(cache, tier, cache.key(prompt, llmKey), gens);
}

async function plantUnder(cache: StrataCache, tier: string, key: CacheKey, gens: unknown[]) {
  const { prompt } = key;
  const stored = encodeEntry({
    v: ENTRY_VERSION,
    k: key.hash,
    ns: key.namespace,
    llm: key.llmString,
    prompt,
    gens: gens as StoredGenerationData[],
    createdAt: Date.now(),
    expiresAt: null,
    tags: [],
  });
  expect(await cache.strata.tier(tier)!.set(key, stored)).toBe(true);
  return key;
}

const UNUSABLE: Array<[string, unknown[]]> = [
  ['an unknown message type', [{ text: 'x', message: { type: 'alien', data: { content: 'x' } } }]],
  ['no generation at all', []],
  ['message.data null', [{ text: 'x', message: { type: 'ai', data: null } }]],
  ['content that is a number', [{ text: 'x', message: { type: 'ai', data: { content: 42 } } }]],
  ['a tool message without tool_call_id', [{ text: 'x', message: { type: 'tool', data: { content: 'x' } } }]],
  [
    'tool_calls that are not a list',
    [{ text: 'x', message: { type: 'ai', data: { content: 'x', tool_calls: 'no' } } }],
  ],
  // Found by trying the packed package as a new user would:
  ['content parts without a type', [{ text: 'x', message: { type: 'ai', data: { content: [{ foo: 1 }] } } }]],
  [
    'a text part without text',
    [{ text: 'x', message: { type: 'ai', data: { content: [{ type: 'text' }] } } }],
  ],
  [
    'a text part whose text is a number',
    [{ text: 'x', message: { type: 'ai', data: { content: [{ type: 'text', text: 5 }] } } }],
  ],
  ['a human message as a chat answer', [{ text: 'x', message: { type: 'human', data: { content: 'x' } } }]],
  [
    'tool calls with string arguments',
    [
      {
        text: '',
        message: { type: 'ai', data: { content: '', tool_calls: [{ name: 't', args: 'notobj', id: '1' }] } },
      },
    ],
  ],
  [
    'additional_kwargs null',
    [{ text: 'x', message: { type: 'ai', data: { content: 'x', additional_kwargs: null } } }],
  ],
  [
    'usage counts that are not numbers',
    [{ text: 'x', message: { type: 'ai', data: { content: 'x', usage_metadata: { input_tokens: 'a' } } } }],
  ],
  [
    'text that disagrees with the content',
    [{ text: 'x', message: { type: 'ai', data: { content: 'I am something else' } } }],
  ],
];

describe('hits LangChain cannot use are misses', () => {
  it.each(UNUSABLE)(
    '%s: invoke calls the model, the entry is counted corrupt and replaced',
    async (_, gens) => {
      const cache = await twoTiers();
      const model = cache.attach(new FakeListChatModel({ responses: ['fresh answer'] }));
      const llmKey = model._getSerializedCacheKeyParametersForCall({});
      const key = await plant(model.cache as StrataCache, 'sqlite', 'Human: hello', llmKey, gens);
      const answer = await model.invoke('hello');
      expect(answer.content).toBe('fresh answer');
      const stats = await cache.stats();
      expect(stats.tiers.find((t) => t.name === 'sqlite')?.corrupt).toBe(1);
      expect(stats.tiers.find((t) => t.name === 'memory')?.backfills).toBe(0);
      // The model's answer replaced the bad entry: the next call is a hit on it.
      expect((await model.invoke('hello')).content).toBe('fresh answer');
      const inMemory = cache.strata.tier('memory')!.get(key);
      expect(typeof inMemory === 'string' && inMemory.includes('fresh answer')).toBe(true);
    },
  );

  it('a chain after the model (a string output parser) never sees an unusable hit', async () => {
    const cache = await twoTiers();
    const model = cache.attach(new FakeListChatModel({ responses: ['fresh answer'] }));
    const llmKey = model._getSerializedCacheKeyParametersForCall({});
    await plant(model.cache as StrataCache, 'sqlite', 'Human: hello', llmKey, [
      { message: { type: 'ai', data: { content: [{ type: 'text' }] } } },
    ]);
    expect(await model.pipe(new StringOutputParser()).invoke('hello')).toBe('fresh answer');
  });

  it('through withCache too', async () => {
    const cache = await twoTiers();
    const inner = new FakeListChatModel({ responses: ['first', 'second'] });
    const model = withCache(inner, cache);
    const missed: CacheKey[] = [];
    cache.on('miss', ({ key }) => missed.push(key));
    expect((await model.invoke('hello')).content).toBe('first');
    const key = missed[0]!;
    await plantUnder(cache, 'sqlite', key, [
      { text: 'x', message: { type: 'alien', data: { content: 'x' } } },
    ]);
    await cache.strata.tier('memory')!.clear();
    const again = await model.invoke('hello');
    expect(again.content).toBe('second');
    expect(again.response_metadata.strata).toMatchObject({ hit: false });
  });

  it('an answer stored as text only is served to a chat model as an AIMessage', async () => {
    const cache = await twoTiers();
    const model = cache.attach(new FakeListChatModel({ responses: ['never called'] }));
    const llmKey = model._getSerializedCacheKeyParametersForCall({});
    await plant(model.cache as StrataCache, 'sqlite', 'Human: hello', llmKey, [
      { text: 'the stored answer' },
    ]);
    const answer = await model.invoke('hello');
    expect(answer.getType()).toBe('ai');
    expect(answer.content).toBe('the stored answer');
  });
});

describe('an answer is stored once', () => {
  // 256 kB is enough to see a second copy (the test's time grows with the size, not its point).
  it('a chat answer of 256 kB makes a payload of about 256 kB, not 512', async () => {
    const cache = await twoTiers();
    const big = 'x'.repeat(256 * 1024);
    const model = cache.attach(new FakeListChatModel({ responses: [big] }));
    let bytes = 0;
    cache.on('set', (e) => {
      bytes = e.bytes;
    });
    await model.invoke('a long answer please');
    await expect.poll(() => bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThan(big.length * 1.1);
    expect((await model.invoke('a long answer please')).content).toBe(big);
  });
});

describe('what no lookup could use is never stored', () => {
  it('an update whose generations have no text, or that a chat model cannot return, is refused and counted', async () => {
    const cache = await twoTiers();
    await cache.update('a stream that assembled no text', 'model:"m"', [{ text: null } as never]);
    const model = cache.attach(new FakeListChatModel({ responses: ['x'] }));
    const chat = model._getSerializedCacheKeyParametersForCall({});
    await (model.cache as StrataCache).update('Human: hi', chat, [
      { text: 'x', message: new HumanMessage('x') } as never,
    ]);
    const stats = await cache.stats();
    expect(stats.unstorable).toBe(2);
    expect(stats.updates).toBe(0);
    for (const name of cache.strata.tierNames) {
      for await (const _ of cache.strata.tier(name)!.entries()) expect.fail(`${name} holds an entry`);
    }
    expect(stats.inFlight).toBe(0);
  });
});
