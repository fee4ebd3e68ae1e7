import { randomUUID } from 'node:crypto';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { describe, expect, it } from 'vitest';
import { killMidLoop } from '../../../test/support/kill-drill.js';
import { service } from '../../../test/support/services.js';
import type { ManualClock } from '../../core/clock.js';
import type { StrataCache } from '../../langchain/cache.js';
import { createCache } from '../../langchain/create.js';
import { describeTierConformance } from '../../testing/conformance.js';
import { GptcacheTier } from './index.js';

const env = service('gptcache');
const exactUrl = env.STRATA_TEST_GPTCACHE_URL!;
const semanticUrl = env.STRATA_TEST_GPTCACHE_SEMANTIC_URL!;
const quiet = { warn: () => {} };

/** Writes straight to the server, as another GPTCache client (or a corrupting bug) would. */
async function put(url: string, prompt: string, answer: string): Promise<void> {
  const res = await fetch(`${url}/put`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, answer }),
  });
  expect(res.status).toBe(200);
}

function harness(url: string, mode: 'exact' | 'semantic') {
  return async (clock: ManualClock) => ({
    tier: new GptcacheTier({ url, mode, foreignAnswers: 'text', poolSize: 8, timeoutMs: 10_000, clock }),
    corrupt: (key: { prompt: string }, bytes: string) => put(url, key.prompt, bytes),
    // The server cannot be emptied between cases: every case gets prompts of its own.
    promptSalt: ` [${randomUUID()}]`,
    similar: mode === 'semantic',
  });
}

// GPTCache keys by prompt text alone and has no delete, list, clear, tag or expiry API.
const SERVER_LACKS = ['scopedKeys', 'clear', 'tags', 'purge', 'list', 'stats'] as const;
describeTierConformance('gptcache (exact mode)', harness(exactUrl, 'exact'), { lacks: [...SERVER_LACKS] });
// Semantic mode also answers similar prompts with each other's entries, and a second put of a
// prompt adds a row instead of replacing the first, so a tombstone need not win either.
describeTierConformance('gptcache (semantic mode)', harness(semanticUrl, 'semantic'), {
  lacks: [...SERVER_LACKS, 'exactKeys', 'overwrite', 'delete'],
});

describe('gptcache tier', () => {
  const salt = randomUUID().slice(0, 8);

  it('semantic mode: a paraphrase hits through StrataCache, and two llm keys never get each other\u2019s answer', async () => {
    const cache = await createCache(
      { tiers: [{ type: 'gptcache', url: semanticUrl, mode: 'semantic', timeoutMs: 5_000 }] },
      { logger: quiet },
    );
    try {
      const stored = `How do I rotate the API keys of workspace ${salt}?`;
      await cache.update(stored, 'model:"a"', [{ text: 'Settings > API keys > Rotate.' }]);
      const hit = await cache.lookupWithInfo(
        `How can I rotate the API keys of workspace ${salt}?`,
        'model:"a"',
      );
      expect(hit?.generations[0]?.text).toBe('Settings > API keys > Rotate.');
      expect(hit?.matchedPrompt).toBe(stored);
      expect(hit?.similarity).toBeUndefined(); // GPTCache does not report its score

      const shared = `What is the refund policy for order ${salt}?`;
      await cache.update(shared, 'model:"x"', [{ text: 'answer of x' }]);
      await cache.update(shared, 'model:"y"', [{ text: 'answer of y' }]);
      const x = await cache.lookup(shared, 'model:"x"');
      const y = await cache.lookup(shared, 'model:"y"');
      expect(x === null || x[0]?.text === 'answer of x').toBe(true);
      expect(y === null || y[0]?.text === 'answer of y').toBe(true);
      expect(x !== null || y !== null).toBe(true); // the server answers one of the two rows
      expect(await cache.lookup(shared, 'model:"z"')).toBeNull();
    } finally {
      await cache.close();
    }
  });

  it('exact mode: one prompt under two llm keys replaces, and each model only ever sees its own answer', async () => {
    const cache = await createCache(
      { tiers: [{ type: 'gptcache', url: exactUrl, mode: 'exact' }] },
      { logger: quiet },
    );
    try {
      const prompt = `Same prompt ${salt}`;
      await cache.update(prompt, 'model:"a"', [{ text: 'from a' }]);
      expect((await cache.lookup(prompt, 'model:"a"'))?.[0]?.text).toBe('from a');
      await cache.update(prompt, 'model:"b"', [{ text: 'from b' }]);
      expect((await cache.lookup(prompt, 'model:"b"'))?.[0]?.text).toBe('from b');
      expect(await cache.lookup(prompt, 'model:"a"')).toBeNull(); // one slot per prompt
      expect(await cache.withNamespace('tenant-2').lookup(prompt, 'model:"b"')).toBeNull();
      const stats = await cache.stats();
      expect(stats.tiers[0]).toMatchObject({ corrupt: 0, errors: 0 });
    } finally {
      await cache.close();
    }
  });

  it('serves an answer another GPTCache client stored as plain text, or ignores it', async () => {
    const prompt = `Written by a Python app ${salt}`;
    await put(exactUrl, prompt, 'plain answer from elsewhere');
    for (const foreignAnswers of ['text', 'ignore'] as const) {
      const cache = await createCache(
        { tiers: [{ type: 'gptcache', url: exactUrl, mode: 'exact', foreignAnswers }] },
        { logger: quiet },
      );
      try {
        const hit = await cache.lookup(prompt, 'any-model');
        expect(hit?.[0]?.text ?? null).toBe(foreignAnswers === 'text' ? 'plain answer from elsewhere' : null);
      } finally {
        await cache.close();
      }
    }
  });

  it("serves a chat model another client's plain answer as an AIMessage, on the BaseCache path, and backfills it usable", async () => {
    const question = `What is the refund window? ${salt}`;
    await put(exactUrl, `Human: ${question}`, 'Thirty days from purchase.');
    const cache = await createCache(
      { tiers: [{ type: 'memory' }, { type: 'gptcache', url: exactUrl, mode: 'exact' }] },
      { logger: quiet },
    );
    try {
      const model = cache.attach(new FakeListChatModel({ responses: ['the model was called'] }));
      for (const tier of ['gptcache', 'memory']) {
        const hit = await (model.cache as StrataCache).lookupWithInfo(
          `Human: ${question}`,
          model._getSerializedCacheKeyParametersForCall({}),
        );
        expect(hit?.tier).toBe(tier);
        const answer = await model.invoke(question);
        expect(answer.getType()).toBe('ai');
        expect(answer.content).toBe('Thirty days from purchase.');
        await expect.poll(async () => (await cache.stats()).tiers[0]?.store?.entries).toBe(1);
      }
    } finally {
      await cache.close();
    }
  });

  it('enforces expiry on read, and reports what the server cannot do', async () => {
    const clock = { now: () => now } as ManualClock;
    let now = Date.now();
    const cache = await createCache(
      { defaultTtlSeconds: 60, tiers: [{ type: 'gptcache', url: exactUrl, mode: 'exact' }] },
      { logger: quiet, clock },
    );
    try {
      const prompt = `Short-lived ${salt}`;
      await cache.update(prompt, 'llm', [{ text: 'for a minute' }]);
      expect((await cache.lookup(prompt, 'llm'))?.[0]?.text).toBe('for a minute');
      now += 61_000;
      expect(await cache.lookup(prompt, 'llm')).toBeNull();
      const health = await cache.health();
      expect(health.tiers[0]).toMatchObject({ status: 'up' });
      expect(health.tiers[0]?.reason).toMatch(/no delete, list, clear, tag or expiry API/);
      expect(await cache.clear({ all: true })).toBe(0);
    } finally {
      await cache.close();
    }
  });

  it('survives the server killed by PID: misses, no exception, and serves again after a restart', async () => {
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          {
            type: 'gptcache',
            url: exactUrl,
            mode: 'exact',
            timeoutMs: 500,
            breaker: { cooldownMs: 200, maxCooldownMs: 1_000 },
          },
        ],
      },
      { logger: quiet },
    );
    try {
      await killMidLoop(cache, { service: 'gptcache', process: 'exact' }, { calls: 600, salt: ` ${salt}` });
    } finally {
      await cache.close();
    }
  });
});
