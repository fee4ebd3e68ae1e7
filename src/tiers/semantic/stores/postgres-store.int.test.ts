import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { killMidLoop } from '../../../../test/support/kill-drill.js';
import { semanticTables } from '../../../../test/support/pg-semantic-tables.js';
import { runTs } from '../../../../test/support/run-ts.js';
import type { StrataCache } from '../../../langchain/cache.js';
import { createCache } from '../../../langchain/create.js';
import { describeTierConformance } from '../../../testing/conformance.js';
import { lexicalEmbedder } from '../embedders/lexical.js';
import { SemanticTier } from '../index.js';
import { PostgresStore } from './postgres-store.js';

const { url, raw, freshPrefix } = semanticTables('s');
const quiet = { warn: () => {} };
const sharedStore = (tablePrefix: string) => ({ type: 'postgres' as const, url, tablePrefix });
const LLM = 'model:"gpt-test"';
const SYSTEM = 'System: You are the support assistant of Acme Cloud. Answer in two sentences.\nHuman: ';

describeTierConformance('semantic (lexical, PostgreSQL + pgvector store)', async (clock) => {
  const tablePrefix = freshPrefix();
  const embedder = lexicalEmbedder();
  const store = new PostgresStore({
    url,
    poolSize: 4,
    connectTimeoutMs: 2_000,
    tablePrefix,
    embedderId: embedder.id,
    maxEntries: 100_000,
  });
  const tier = new SemanticTier({
    embedder,
    threshold: 0.8,
    path: ':memory:',
    maxEntries: 100_000,
    guards: ['numbers', 'negation', 'opposites', 'direction'],
    candidates: 5,
    clock,
    store,
  });
  return {
    tier,
    similar: true,
    corrupt: async (key, bytes) => {
      const { rows } = await raw.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE tablename LIKE $1 || 'semantic_%'",
        [tablePrefix],
      );
      await raw.query(`UPDATE ${rows[0]!.name} SET payload = $1 WHERE hash = $2`, [bytes, key.hash]);
    },
  };
});

describe('semantic tier with the shared PostgreSQL store', () => {
  const caches: StrataCache[] = [];
  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()));
  });
  async function open(tablePrefix: string): Promise<StrataCache> {
    const cache = await createCache(
      { coalesceWaitMs: 0, tiers: [{ type: 'semantic', store: sharedStore(tablePrefix) }] },
      { logger: quiet },
    );
    caches.push(cache);
    return cache;
  }
  const peer = async (tablePrefix: string, namespace: string, llm: string, ...prompts: string[]) => {
    const script = join(import.meta.dirname, '../../../../test/support/semantic-peer.ts');
    const { stdout } = await runTs(script, [url, tablePrefix, namespace, llm, ...prompts]);
    return JSON.parse(stdout) as Array<{ text: string; tier: string; matchedPrompt: string } | null>;
  };

  it('an answer stored by one process is a paraphrase hit in another at once; markBad there stops it everywhere', async () => {
    const tablePrefix = freshPrefix();
    const a = (await open(tablePrefix)).withNamespace('acme');
    const stored = `${SYSTEM}How do I reset my password on the mobile app?`;
    const asked = `${SYSTEM}how do i reset my password on the mobile app`;
    await a.update(stored, LLM, [{ text: 'Settings > Account > Reset password.' }]);
    const [hit] = await peer(tablePrefix, 'acme', LLM, asked);
    expect(hit).toEqual({
      text: 'Settings > Account > Reset password.',
      tier: 'semantic',
      matchedPrompt: stored,
    });
    // A wrong match reported by the application in process A is gone for process B too.
    expect(await a.lookup(asked, LLM)).not.toBeNull();
    expect(await a.markBad(asked, LLM)).toBe(1);
    expect(await peer(tablePrefix, 'acme', LLM, asked)).toEqual([null]);
    // The entry itself stays the answer to its own prompt in exact tiers; here (semantic only) it is out.
    expect(await a.lookup(asked, LLM)).toBeNull();
  });

  it('never crosses namespaces, models or contexts', async () => {
    const tablePrefix = freshPrefix();
    const cache = await open(tablePrefix);
    const question = 'How do I export my invoices as CSV?';
    await cache.withNamespace('tenant-a').update(`${SYSTEM}${question}`, LLM, [{ text: 'tenant A' }]);
    const paraphrase = 'how do I export my invoices as csv';
    const [other, sameTenant, otherModel, otherContext] = await Promise.all([
      cache.withNamespace('tenant-b').lookup(`${SYSTEM}${paraphrase}`, LLM),
      cache.withNamespace('tenant-a').lookup(`${SYSTEM}${paraphrase}`, LLM),
      cache.withNamespace('tenant-a').lookup(`${SYSTEM}${paraphrase}`, 'model:"another-model"'),
      cache
        .withNamespace('tenant-a')
        .lookup(`System: You are a pirate. Answer in rhymes.\nHuman: ${paraphrase}`, LLM),
    ]);
    expect(other).toBeNull();
    expect(sameTenant?.[0]?.text).toBe('tenant A');
    expect(otherModel).toBeNull();
    expect(otherContext).toBeNull();
    // And in another process: the same partitions.
    expect(await peer(tablePrefix, 'tenant-b', LLM, `${SYSTEM}${paraphrase}`)).toEqual([null]);
  });

  it('deletes, clears and tag invalidations apply to every process', async () => {
    const tablePrefix = freshPrefix();
    const cache = await open(tablePrefix);
    const ask = (q: string) => `${SYSTEM}${q}`;
    await cache
      .withOptions({ tags: ['hours'] })
      .update(ask('What are your opening hours on Sunday?'), LLM, [{ text: 'Closed.' }]);
    await cache.update(ask('Where is your office in Berlin?'), LLM, [{ text: 'Mitte.' }]);
    expect(
      (await peer(tablePrefix, 'default', LLM, ask('what are your opening hours on sunday')))[0]?.text,
    ).toBe('Closed.');
    expect(await cache.invalidateTag('hours')).toBeGreaterThanOrEqual(1);
    expect(await peer(tablePrefix, 'default', LLM, ask('what are your opening hours on sunday'))).toEqual([
      null,
    ]);
    expect(await cache.clear()).toBeGreaterThanOrEqual(1);
    expect(await peer(tablePrefix, 'default', LLM, ask('where is your office in berlin'))).toEqual([null]);
  });

  it('finds the entries of a small partition inside a large table; every connection searches with the iterative scan', async () => {
    const tablePrefix = freshPrefix();
    const embedder = lexicalEmbedder();
    const store = new PostgresStore({
      url,
      poolSize: 1,
      connectTimeoutMs: 2_000,
      tablePrefix,
      embedderId: embedder.id,
      maxEntries: 100_000,
      efSearch: 77,
    });
    try {
      const texts = Array.from(
        { length: 2_000 },
        (_, i) => `How do I configure feature ${i} of the billing dashboard?`,
      );
      const vectors = await embedder.embed([...texts, 'How do I configure the billing dashboard export?']);
      const question = (i: number, partition: string) => ({
        hash: `${partition}-${i}`,
        namespace: partition,
        llmString: 'llm',
        prompt: texts[i] ?? 'p',
        query: texts[i] ?? 'q',
        context: '',
        partition,
        createdAt: 0,
        expiresAt: null,
        tags: [],
        size: 1,
      });
      for (let i = 0; i < texts.length; i++) await store.put(question(i, 'big'), vectors[i]!, '{}');
      await store.put(question(7, 'small'), vectors[7]!, '{}');
      const found = await store.nearest('small', vectors.at(-1)!, 5, Date.now());
      expect(found.map((c) => c.hash)).toEqual(['small-7']);
      expect((await store.nearest('big', vectors.at(-1)!, 5, Date.now())).length).toBe(5);
      // The one pooled connection that searched carries the session settings a filtered HNSW scan needs.
      const pool = (store as unknown as { pool: pg.Pool }).pool;
      const { rows } = await pool.query<{ ef: string; scan: string }>(
        "SELECT current_setting('hnsw.ef_search') AS ef, current_setting('hnsw.iterative_scan') AS scan",
      );
      expect(rows[0]).toEqual({ ef: '77', scan: 'strict_order' });
    } finally {
      await store.close();
    }
  });

  it('survives postgres killed mid-loop: misses, no exception, and serves again after a restart', async () => {
    const tablePrefix = freshPrefix();
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          {
            type: 'semantic',
            store: sharedStore(tablePrefix),
            timeoutMs: 500,
            breaker: { cooldownMs: 200, maxCooldownMs: 1_000 },
          },
        ],
      },
      { logger: quiet },
    );
    try {
      await killMidLoop(cache, { service: 'postgres', process: 'postgres' }, { calls: 600 });
    } finally {
      await cache.close();
    }
  });
});
