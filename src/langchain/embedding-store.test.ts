import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheBackedEmbeddings } from '@langchain/classic/embeddings/cache_backed';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.js';
import { FaultyTier } from '../../test/support/faulty-tier.js';
import { ManualClock, systemClock } from '../core/clock.js';
import { deriveKey } from '../core/key.js';
import { Manager } from '../core/manager.js';
import { IncompleteOperationError, StrataConfigError, TierUnavailableError } from '../errors.js';
import { createMonitor } from '../monitor/index.js';
import { MemoryTier } from '../tiers/memory/index.js';
import type { StrataCache } from './cache.js';
import { createCache } from './create.js';
import { createEmbeddingStore } from './embedding-store.js';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const dirs: string[] = [];
const caches: StrataCache[] = [];
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-emb-'));
  dirs.push(dir);
  return join(dir, 'cache.db');
}

/** Memory in front of a SQLite file, as an application would run it. */
async function open(path: string, clock?: ManualClock): Promise<StrataCache> {
  const cache = await createCache(
    { tiers: [{ type: 'memory' }, { type: 'sqlite', path }] },
    clock ? { clock } : {},
  );
  caches.push(cache);
  return cache;
}

/** An embeddings model that counts the texts it is asked to embed; a vector is a function of its text. */
class CountingEmbeddings implements EmbeddingsInterface {
  texts: string[] = [];
  constructor(
    private readonly dims = 8,
    private readonly salt = 0,
  ) {}
  async embedDocuments(documents: string[]): Promise<number[][]> {
    this.texts.push(...documents);
    return documents.map((d) => this.vector(d));
  }
  async embedQuery(document: string): Promise<number[]> {
    this.texts.push(document);
    return this.vector(document);
  }
  vector(text: string): number[] {
    const v: number[] = [];
    for (let i = 0; i < this.dims; i++)
      v.push(Math.sin(text.length * 31 + (text.codePointAt(i % text.length) ?? 0) + i + this.salt));
    return v;
  }
}

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) % 256);

describe('createEmbeddingStore', () => {
  it('round-trips bytes of every length, 0 and a 1536-float vector included', async () => {
    const store = createEmbeddingStore(await open(tempFile()));
    const floats = new Float32Array(1536).map((_, i) => Math.cos(i) * 1e-3);
    const values = [
      new Uint8Array(0),
      bytes(1),
      bytes(2),
      bytes(3),
      bytes(255),
      new Uint8Array(floats.buffer),
    ];
    await store.mset(values.map((v, i) => [`k${i}`, v]));
    const got = await store.mget(values.map((_, i) => `k${i}`));
    expect(got).toEqual(values);
    expect(new Float32Array(got[5]!.buffer)).toEqual(floats);
    for (const g of got) expect(g?.constructor).toBe(Uint8Array);
  });

  it('answers mget in the order asked, undefined for the keys it lacks', async () => {
    const store = createEmbeddingStore(await open(tempFile()));
    await store.mset([
      ['a', bytes(4)],
      ['c', bytes(6)],
    ]);
    expect(await store.mget(['x', 'c', 'b', 'a', 'c'])).toEqual([
      undefined,
      bytes(6),
      undefined,
      bytes(4),
      bytes(6),
    ]);
    expect(await store.mget([])).toEqual([]);
  });

  it('mdelete removes keys from every tier', async () => {
    const cache = await open(tempFile());
    const store = createEmbeddingStore(cache);
    await store.mset([
      ['a', bytes(4)],
      ['b', bytes(5)],
    ]);
    await store.mdelete(['a', 'never-stored']);
    expect(await store.mget(['a', 'b'])).toEqual([undefined, bytes(5)]);
    expect((await cache.stats()).tiers.map((t) => t.store?.entries)).toEqual([1, 1]);
  });

  it('expires values after the store TTL, and the config default applies without one', async () => {
    const clock = new ManualClock();
    const cache = await open(tempFile(), clock);
    const short = createEmbeddingStore(cache, { ttlSeconds: 60 });
    const forever = createEmbeddingStore(cache, { name: 'kept' });
    await short.mset([['a', bytes(4)]]);
    await forever.mset([['a', bytes(8)]]);
    clock.advance(59_000);
    expect(await short.mget(['a'])).toEqual([bytes(4)]);
    clock.advance(2_000);
    expect(await short.mget(['a'])).toEqual([undefined]);
    expect(await forever.mget(['a'])).toEqual([bytes(8)]);
  });

  it('refuses a bad TTL, namespace or name naming the option', async () => {
    const cache = await open(tempFile());
    expect(() => createEmbeddingStore(cache, { ttlSeconds: 0 })).toThrow(/ttlSeconds/);
    expect(() => createEmbeddingStore(cache, { ttlSeconds: -1 })).toThrow(StrataConfigError);
    expect(() => createEmbeddingStore(cache, { namespace: '' })).toThrow(/namespace/);
    expect(() => createEmbeddingStore(cache, { name: '' })).toThrow(/name/);
    await expect(createEmbeddingStore(cache).mset([['a', [1, 2] as never]])).rejects.toThrow(TypeError);
  });

  it('lets CacheBackedEmbeddings embed each text once, across a process restart', async () => {
    const path = tempFile();
    const texts = [
      'The quick brown fox',
      '敏捷的棕色狐狸跳过了懒狗',
      'emoji 🦊🐶✨ and a flag 🇫🇷',
      'The quick brown fox',
    ];
    const model = new CountingEmbeddings(1536);
    const first = await open(path);
    const embeddings = CacheBackedEmbeddings.fromBytesStore(model, createEmbeddingStore(first), {
      namespace: 'text-embedding-3-small',
    });
    const vectors = await embeddings.embedDocuments(texts);
    expect(vectors).toEqual(texts.map((t) => model.vector(t)));
    expect(model.texts).toHaveLength(4);

    model.texts = [];
    expect(await embeddings.embedDocuments(texts)).toEqual(vectors);
    expect(model.texts).toEqual([]);
    await first.close();
    caches.splice(caches.indexOf(first), 1);

    // A new process: a new engine on the same file, its memory tier empty.
    const second = await open(path);
    const again = CacheBackedEmbeddings.fromBytesStore(model, createEmbeddingStore(second), {
      namespace: 'text-embedding-3-small',
    });
    expect(await again.embedDocuments([...texts, 'one new text'])).toEqual([
      ...vectors,
      model.vector('one new text'),
    ]);
    expect(model.texts).toEqual(['one new text']);
    const stats = await second.stats();
    expect(stats.hits).toBe(4);
    // The memory tier started empty: SQLite answered (a repeated text may then come from memory).
    expect(stats.tiers[1]?.hits).toBeGreaterThanOrEqual(3);
  });

  it('keeps two models (CacheBackedEmbeddings namespaces) and two store names apart', async () => {
    const cache = await open(tempFile());
    const store = createEmbeddingStore(cache);
    const small = new CountingEmbeddings(4, 1);
    const large = new CountingEmbeddings(4, 2);
    const viaSmall = CacheBackedEmbeddings.fromBytesStore(small, store, { namespace: 'small' });
    const viaLarge = CacheBackedEmbeddings.fromBytesStore(large, store, { namespace: 'large' });
    expect(await viaSmall.embedDocuments(['same text'])).toEqual([small.vector('same text')]);
    expect(await viaLarge.embedDocuments(['same text'])).toEqual([large.vector('same text')]);
    expect(await viaSmall.embedDocuments(['same text'])).toEqual([small.vector('same text')]);
    expect([small.texts.length, large.texts.length]).toEqual([1, 1]);

    await store.mset([['k', bytes(3)]]);
    expect(await createEmbeddingStore(cache, { name: 'other' }).mget(['k'])).toEqual([undefined]);
    expect(await createEmbeddingStore(cache, { namespace: 'tenant-b' }).mget(['k'])).toEqual([undefined]);
  });

  it('keeps its entries apart from the LLM answers of the same namespace', async () => {
    const cache = await open(tempFile());
    const store = createEmbeddingStore(cache);
    await store.mset([['hello', bytes(3)]]);
    await cache.update('hello', 'gpt-4o-mini', [{ text: 'an answer' }]);
    expect((await cache.lookup('hello', 'gpt-4o-mini'))?.[0]?.text).toBe('an answer');
    expect(await store.mget(['hello'])).toEqual([bytes(3)]);
    expect((await cache.stats()).tiers[1]?.store?.entries).toBe(2);
  });

  it('treats a corrupt or foreign payload in the SQLite tier as a miss', async () => {
    const path = tempFile();
    const writer = await open(path);
    const store = createEmbeddingStore(writer);
    await store.mset([
      ['bad-base64', bytes(16)],
      ['bad-length', bytes(16)],
      ['not-json', bytes(16)],
      ['good', bytes(16)],
    ]);
    const sqlite = writer.strata.tier('sqlite')!;
    const key = (k: string) => deriveKey(writer.namespace, '_type:"strata_embeddings",store:"default"', k);
    const rewrite = async (k: string, edit: (payload: string) => string) => {
      const payload = (await sqlite.get(key(k))) as string;
      const stored = { payload: edit(payload), size: 0, createdAt: 0, expiresAt: null, tags: [] };
      expect(await sqlite.set(key(k), stored)).toBe(true);
    };
    await rewrite('bad-base64', (p) => p.replace(/"text":"[^"]*"/, '"text":"!!not base64!!"'));
    await rewrite('bad-length', (p) => p.replace(/"bytes":16/, '"bytes":17'));
    await rewrite('not-json', (p) => p.slice(0, 40));
    await writer.close();
    caches.splice(caches.indexOf(writer), 1);

    const reader = createEmbeddingStore(await open(path));
    expect(await reader.mget(['bad-base64', 'bad-length', 'not-json', 'good'])).toEqual([
      undefined,
      undefined,
      undefined,
      bytes(16),
    ]);
  });

  it('yieldKeys lists each live key of this store once, by prefix', async () => {
    const clock = new ManualClock();
    const cache = await open(tempFile(), clock);
    const store = createEmbeddingStore(cache);
    await store.mset([
      ['m1:a', bytes(1)],
      ['m1:b', bytes(1)],
      ['m2:a', bytes(1)],
    ]);
    await createEmbeddingStore(cache, { ttlSeconds: 10 }).mset([['m1:old', bytes(1)]]);
    await createEmbeddingStore(cache, { name: 'other' }).mset([['m1:other', bytes(1)]]);
    await cache.update('m1:llm', 'gpt-4o-mini', [{ text: 'an answer' }]);
    clock.advance(11_000);
    const list = async (prefix?: string) => {
      const keys: string[] = [];
      for await (const k of store.yieldKeys(prefix)) keys.push(k);
      return keys.sort();
    };
    expect(await list('m1:')).toEqual(['m1:a', 'm1:b']);
    expect(await list()).toEqual(['m1:a', 'm1:b', 'm2:a']);
  });

  it('says yieldKeys is incomplete when keys were stored under storePrompt: false', async () => {
    const cache = await createCache({ storePrompt: false, tiers: [{ type: 'sqlite', path: tempFile() }] });
    caches.push(cache);
    const store = createEmbeddingStore(cache);
    await store.mset([['a', bytes(2)]]);
    expect(await store.mget(['a'])).toEqual([bytes(2)]);
    const listed: string[] = [];
    await expect(
      (async () => {
        for await (const k of store.yieldKeys()) listed.push(k);
      })(),
    ).rejects.toThrow(/storePrompt/);
    expect(listed).toEqual([]);
  });

  it('answers a miss while its only tier is down, and says mdelete and yieldKeys could not', async () => {
    const faulty = new FaultyTier(
      new MemoryTier({ maxEntries: 100, maxBytes: 1e6, clock: systemClock }),
      'memory',
    );
    const manager = new Manager(
      [
        {
          tier: faulty,
          options: {
            timeoutMs: 1_000,
            breaker: { failureThreshold: 100, cooldownMs: 1_000, maxCooldownMs: 1_000 },
          },
        },
      ],
      { clock: systemClock, coalesceWaitMs: 0, storePrompt: true, logger: { warn: () => {} } },
    );
    try {
      const store = createEmbeddingStore(manager);
      await store.mset([['a', bytes(4)]]);
      faulty.fault = 'throw';
      expect(await store.mget(['a', 'b'])).toEqual([undefined, undefined]);
      await expect(store.mset([['b', bytes(4)]])).resolves.toBeUndefined();
      faulty.fault = 'none';
      expect(await store.mget(['a'])).toEqual([bytes(4)]);
      faulty.fault = 'throw';
      await expect(store.mdelete(['a'])).rejects.toThrow(IncompleteOperationError);
      faulty.fault = 'none';
      faulty.entries = () => ({
        [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('injected listing failure')) }),
      });
      await expect(
        (async () => {
          for await (const _ of store.yieldKeys()) void _;
        })(),
      ).rejects.toThrow(TierUnavailableError);
    } finally {
      await manager.close();
    }
  });

  it('bypasses a semantic tier entirely: never indexed there, never asked, never a similar hit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-emb-sem-'));
    dirs.push(dir);
    const cache = await createCache(
      {
        tiers: [
          { type: 'memory' },
          { type: 'sqlite', path: join(dir, 'cache.db') },
          { type: 'semantic', embeddings: 'lexical', path: join(dir, 'semantic.db') },
        ],
      },
      { logger: { warn: () => {} } },
    );
    caches.push(cache);
    const model = new CountingEmbeddings(8);
    const embeddings = CacheBackedEmbeddings.fromBytesStore(model, createEmbeddingStore(cache), {
      namespace: 'text-embedding-3-small',
    });
    const texts = Array.from({ length: 20 }, (_, i) => `What is the capital city of country number ${i}?`);
    await embeddings.embedDocuments(texts);
    // A text one character away from a stored one: its key is as near as two keys get.
    const near = `${texts[3]} `;
    expect(await embeddings.embedDocuments([near, texts[3]!])).toEqual([
      model.vector(near),
      model.vector(texts[3]!),
    ]);
    expect(model.texts.filter((t) => t === near)).toHaveLength(1);
    const stats = await cache.stats();
    const semantic = stats.tiers.find((t) => t.type === 'semantic')!;
    // Nothing reached it: no entry (so no embedding of a key was computed), no lookup, no write.
    expect(semantic.store?.entries).toBe(0);
    expect([semantic.hits, semantic.misses, semantic.sets, semantic.refused]).toEqual([0, 0, 0, 0]);
    expect(stats.tiers.find((t) => t.type === 'sqlite')!.store?.entries).toBe(21);
    // The near text was a miss, counted as one: one hit in all, for texts[3] itself.
    expect(stats.hits).toBe(1);

    // The same keys without the exemption would have matched there: the tier does find similar
    // prompts, so the bypass is what keeps it out.
    const raw = deriveKey(cache.strata.namespace, 'anything', texts[5]!);
    await cache.strata.update(raw, [{ text: 'x' }]);
    const probe = deriveKey(cache.strata.namespace, 'anything', `${texts[5]} `);
    expect((await cache.strata.lookup(probe, { claim: false }))?.similarity).toBeDefined();
  });

  it('names the model it was created for in the monitor, with the 0 tokens a vector hit saves', async () => {
    const cache = await open(tempFile());
    const monitor = createMonitor(cache);
    try {
      const model = new CountingEmbeddings(4);
      const store = createEmbeddingStore(cache, { model: 'text-embedding-3-small' });
      const embeddings = CacheBackedEmbeddings.fromBytesStore(model, store, { namespace: 'small' });
      await embeddings.embedDocuments(['a', 'b']);
      await embeddings.embedDocuments(['a', 'b', 'c']);
      const { savings } = await monitor.report();
      expect(savings.models).toEqual([
        { model: 'text-embedding-3-small', hits: 2, inputTokens: 0, outputTokens: 0, cost: 0 },
      ]);
      const panels = await monitor.panels();
      expect(panels.models.map((m) => m.name)).toEqual(['text-embedding-3-small']);
      // The model is part of the key: a store for another model (or none) does not see these.
      const keys = await collect(store.yieldKeys());
      expect(keys).toHaveLength(3);
      expect((await store.mget(keys)).every((v) => v instanceof Uint8Array)).toBe(true);
      expect(await createEmbeddingStore(cache).mget(keys)).toEqual([undefined, undefined, undefined]);
      expect(() => createEmbeddingStore(cache, { model: 'a"b' })).toThrow(/createEmbeddingStore.model/);
      expect(() => createEmbeddingStore(cache, { model: '' })).toThrow(StrataConfigError);
    } finally {
      monitor.close();
    }
  });
});

describe('an embedding store exported and imported', () => {
  it('stays out of a semantic tier of the config it is imported into (import rebuilds keys without a flag)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-emb-import-'));
    dirs.push(dir);
    const from = await createCache({ tiers: [{ type: 'sqlite', path: join(dir, 'from.db') }] });
    const model = new CountingEmbeddings(8);
    const texts = Array.from(
      { length: 12 },
      (_, i) => `Chunk ${i} of the handbook: vacation policy, section ${i}.`,
    );
    await CacheBackedEmbeddings.fromBytesStore(model, createEmbeddingStore(from, { model: 'm' }), {
      namespace: 'm',
    }).embedDocuments(texts);
    await from.close();
    const config = (name: string, tiers: unknown[]) => {
      const path = join(dir, name);
      writeFileSync(path, JSON.stringify({ tiers }));
      return path;
    };
    const file = join(dir, 'vectors.jsonl');
    expect(
      (
        await cli(
          'export',
          '--config',
          config('a.json', [{ type: 'sqlite', path: 'from.db' }]),
          '--file',
          file,
        )
      ).code,
    ).toBe(0);
    const tiers = [
      { type: 'sqlite', path: 'to.db' },
      { type: 'semantic', embeddings: 'lexical', path: 'semantic.db' },
    ];
    const imported = await cli('import', '--config', config('b.json', tiers), '--file', file);
    expect(imported.code).toBe(0); // the semantic tier not taking them is no failure: they are not for it
    expect(imported.out).toContain(
      'stored: 12 of 12 lines (sqlite: 12; semantic: 0, 12 embedding vectors not for it)',
    );

    const to = await createCache(
      { tiers: tiers.map((t) => ({ ...t, path: join(dir, t.path) })) as never },
      { logger: { warn: () => {} } },
    );
    caches.push(to);
    const stats = await to.stats();
    expect(stats.tiers.find((t) => t.type === 'sqlite')!.store?.entries).toBe(12);
    expect(stats.tiers.find((t) => t.type === 'semantic')!.store?.entries).toBe(0);
    // And the imported vectors serve: no embedding call for the same texts.
    const calls = model.texts.length;
    await CacheBackedEmbeddings.fromBytesStore(model, createEmbeddingStore(to, { model: 'm' }), {
      namespace: 'm',
    }).embedDocuments(texts);
    expect(model.texts.length).toBe(calls);
  });
});
