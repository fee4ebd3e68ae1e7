import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import type { StrataCache } from '../../langchain/cache.js';
import { createCache } from '../../langchain/create.js';
import { describeTierConformance } from '../../testing/conformance.js';
import { withEmbeddingCache } from './embedders/embedding-cache.js';
import { embedLexical, lexicalEmbedder } from './embedders/lexical.js';
import { refusingGuard } from './guards/guards.js';
import { SemanticTier } from './index.js';
import { LocalStore } from './stores/local-store.js';
import { dot } from './vectors/vector.js';
import { VectorIndex } from './vectors/vector-index.js';

const dirs: string[] = [];
const caches: StrataCache[] = [];
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-semantic-'));
  dirs.push(dir);
  return join(dir, 'semantic.db');
}
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describeTierConformance('semantic (lexical)', async (clock) => {
  const tier = new SemanticTier({
    embedder: lexicalEmbedder(),
    threshold: 0.8,
    path: tempPath(),
    maxEntries: 100_000,
    guards: ['numbers', 'negation', 'opposites', 'direction'],
    candidates: 5,
    clock,
  });
  const db = (tier as unknown as { store: { db: import('better-sqlite3').Database } }).store.db;
  return {
    tier,
    similar: true,
    corrupt: (key, bytes) => {
      db.prepare('UPDATE semantic_entries SET payload = ? WHERE hash = ?').run(bytes, key.hash);
    },
  };
});

async function semanticCache(extra: Record<string, unknown> = {}): Promise<StrataCache> {
  const cache = await createCache({
    tiers: [{ type: 'memory' }, { type: 'semantic', path: tempPath(), ...extra }],
  });
  caches.push(cache);
  return cache;
}

const LLM = 'model:"gpt-test"';
const answer = (text: string) => [{ text }];

describe('semantic tier through StrataCache', () => {
  it('never answers a question that differs in what the answer depends on', async () => {
    const cache = await semanticCache();
    const pairs = [
      ['What is 15% of 80?', 'What is 15% of 90?'],
      ['Which foods are safe for dogs?', 'Which foods are not safe for dogs?'],
      ['Convert 5 miles to km', 'Convert 5 km to miles'],
      ['如何安装Redis？', '如何卸载Redis？'],
    ];
    for (const [stored] of pairs) await cache.update(stored!, LLM, answer(`answer to ${stored}`));
    for (const [stored, asked] of pairs) {
      expect(await cache.lookup(asked!, LLM)).toBeNull();
      expect((await cache.lookup(stored!, LLM))?.[0]?.text).toBe(`answer to ${stored}`);
    }
  });

  it('always answers casing, punctuation, whitespace and word-order variants', async () => {
    const cache = await semanticCache();
    const stored = 'How do I reset my password on the mobile app?';
    await cache.update(stored, LLM, answer('Settings > Account > Reset password.'));
    for (const variant of [
      'how do i reset my password on the mobile app',
      'HOW DO I RESET MY PASSWORD ON THE MOBILE APP?!',
      '  How   do I reset my password\ton the mobile app ? ',
      'How do I reset my password, on the mobile app...',
      'On the mobile app, how do I reset my password?',
      'My password on the mobile app: how do I reset it?',
    ]) {
      const hit = await cache.lookupWithInfo(variant, LLM);
      expect(hit?.generations[0]?.text, variant).toBe('Settings > Account > Reset password.');
      expect(hit?.tier).toBe('semantic');
      expect(hit?.matchedPrompt).toBe(stored);
      expect(hit?.similarity).toBeGreaterThan(0.8);
    }
  });

  it('never crosses namespaces or llm keys', async () => {
    const cache = await semanticCache();
    await cache
      .withNamespace('tenant-a')
      .update('How do I reset my password?', LLM, answer('tenant A answer'));
    await cache.update('How do I export my invoices?', LLM, answer('model one'));
    expect(await cache.withNamespace('tenant-b').lookup('how do I reset my password', LLM)).toBeNull();
    expect((await cache.withNamespace('tenant-a').lookup('how do I reset my password', LLM))?.[0]?.text).toBe(
      'tenant A answer',
    );
    expect(await cache.lookup('how do i export my invoices', 'model:"another-model"')).toBeNull();
    expect((await cache.lookup('how do i export my invoices', LLM))?.[0]?.text).toBe('model one');
  });

  it('reports similarity and the matched prompt in events and stats', async () => {
    const cache = await semanticCache();
    const hits: Array<{ tier: string; similarity?: number; matchedPrompt?: string }> = [];
    cache.on('hit', (e) => hits.push(e));
    await cache.update('What is the capital of France?', LLM, answer('Paris'));
    await cache.lookup('what is the capital of france', LLM);
    expect(hits).toEqual([
      expect.objectContaining({ tier: 'semantic', matchedPrompt: 'What is the capital of France?' }),
    ]);
    const stats = await cache.stats();
    const semantic = stats.tiers.find((t) => t.name === 'semantic')!;
    expect(semantic.similarity?.count).toBe(1);
    expect(semantic.similarity?.mean).toBeGreaterThan(0.9);
  });

  it('markBad takes a wrong entry out of semantic matching for good, across restarts', async () => {
    const path = tempPath();
    const cache = await createCache({ tiers: [{ type: 'memory' }, { type: 'semantic', path }] });
    await cache.update('How do I cancel my subscription?', LLM, answer('Billing > Cancel.'));
    expect(await cache.lookup('how do i cancel my subscription', LLM)).not.toBeNull();
    expect(await cache.markBad('how do i cancel my subscription', LLM)).toBe(1);
    expect(await cache.lookup('how do i cancel my subscription', LLM)).toBeNull();
    // The entry still answers its own prompt exactly (memory tier).
    expect((await cache.lookup('How do I cancel my subscription?', LLM))?.[0]?.text).toBe(
      'Billing > Cancel.',
    );
    await cache.close();
    const reopened = await createCache({ tiers: [{ type: 'semantic', path }] });
    caches.push(reopened);
    expect(await reopened.lookup('how do i cancel my subscription', LLM)).toBeNull();
  });

  it('keeps entries and vectors across a restart', async () => {
    const path = tempPath();
    const first = await createCache({ tiers: [{ type: 'semantic', path }] });
    await first.update('Where can I download my invoices?', LLM, answer('Billing > Invoices.'));
    await first.close();
    const second = await createCache({ tiers: [{ type: 'semantic', path }] });
    caches.push(second);
    expect((await second.lookup('where can i download my invoices', LLM))?.[0]?.text).toBe(
      'Billing > Invoices.',
    );
  });

  it('asks the verifier before answering, and honours per-namespace thresholds', async () => {
    const seen: Array<[string, string]> = [];
    const cache = await semanticCache({
      threshold: 0.8,
      verifier: (query: string, candidate: string) => {
        seen.push([query, candidate]);
        return !query.includes('refuse');
      },
      thresholds: { strict: 0.999 },
    });
    await cache.update('How do I rotate an API key?', LLM, answer('Settings > Keys.'));
    expect(await cache.lookup('how do i rotate an api key', LLM)).not.toBeNull();
    expect(await cache.lookup('how do i rotate an api key refuse', LLM)).toBeNull();
    expect(seen.map(([q]) => q)).toEqual(['how do i rotate an api key', 'how do i rotate an api key refuse']);
    const strict = cache.withNamespace('strict');
    await strict.update('How do I rotate an API key?', LLM, answer('strict answer'));
    expect(await strict.lookup('how do i rotate my api key please', LLM)).toBeNull();
  });

  it('refuses a store written by a newer schema', async () => {
    const path = tempPath();
    const first = await createCache({ tiers: [{ type: 'semantic', path }] });
    await first.close();
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(path);
    expect(raw.pragma('user_version', { simple: true })).toBe(2);
    raw.pragma('user_version = 7');
    raw.close();
    // Not a config error: the tier is down with the reason, and the file is left as it is.
    const cache = await createCache({ tiers: [{ type: 'semantic', path }] }, { logger: { warn: () => {} } });
    try {
      const health = await cache.health();
      expect(health.tiers[0]).toMatchObject({ status: 'down', reason: expect.stringMatching(/version 7/) });
      expect(await cache.lookup('anything', 'llm')).toBeNull();
    } finally {
      await cache.close();
    }
    expect(() => new LocalStore({ path, embedderId: 'lexical', maxEntries: 10 })).toThrow(
      expect.objectContaining({ code: 'STRATA_SQLITE_OPEN', message: expect.stringMatching(/version 7/) }),
    );
    const again = new Database(path);
    expect(again.pragma('user_version', { simple: true })).toBe(7);
    again.close();
  });

  it('refuses a semantic tier when prompts are not stored', async () => {
    await expect(
      createCache({ storePrompt: false, tiers: [{ type: 'semantic', path: ':memory:' }] }),
    ).rejects.toThrow(/tiers\[0\]\.type: a semantic tier compares prompt texts/);
  });
});

describe('guards', () => {
  it.each([
    ['What is 15% of 80?', 'What is 15% of 90?', 'numbers'],
    ['Split the bill between two people', 'Split the bill between 3 people', 'numbers'],
    ['Which foods are safe for dogs?', 'Which foods are not safe for dogs?', 'negation'],
    ['Why does my app crash?', "Why doesn't my app crash?", 'negation'],
    ['How do I install Redis?', 'How do I uninstall Redis?', 'opposites'],
    ['如何安装Redis？', '如何卸载Redis？', 'opposites'],
    ['Convert 5 miles to km', 'Convert 5 km to miles', 'direction'],
    ['Is Python faster than Go?', 'Is Go faster than Python?', 'direction'],
  ])('%s / %s: refused by %s', (a, b, guard) => {
    expect(refusingGuard(a, b)).toBe(guard);
    expect(refusingGuard(b, a)).toBe(guard);
  });

  it.each([
    ['What is 15% of 80?', 'what is 15 % of 80'],
    ['How far is it from London to Paris?', 'From London to Paris, how far is it?'],
    ['How do I install Redis?', 'Installing Redis: how do I do it?'],
    ['Convert 1,000 yen to dollars', 'convert 1000 yen to dollars'],
  ])('%s / %s: allowed', (a, b) => {
    expect(refusingGuard(a, b)).toBeUndefined();
  });
});

describe('lexical embedder', () => {
  it('is deterministic, unit length, and blind to case, punctuation, spacing and word order', () => {
    const a = embedLexical('How do I reset my password?');
    expect(embedLexical('How do I reset my password?')).toEqual(a);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(dot(a, embedLexical('  how DO i reset   my password'))).toBeCloseTo(1, 5);
    expect(dot(a, embedLexical('my password: how do I reset?'))).toBeCloseTo(1, 5);
    expect(dot(a, embedLexical('What is the weather in Tokyo?'))).toBeLessThan(0.3);
  });

  it('handles Chinese without spaces', () => {
    const a = embedLexical('如何安装Redis数据库');
    expect(dot(a, embedLexical('如何 安装 Redis 数据库'))).toBeCloseTo(1, 5);
    expect(dot(a, embedLexical('今天天气怎么样'))).toBeLessThan(0.3);
  });

  it('embeds a repeated prompt once', async () => {
    const cached = withEmbeddingCache(lexicalEmbedder(), 10);
    await cached.embed(['a question', 'another']);
    await cached.embed(['a question']);
    expect({ hits: cached.hits, misses: cached.misses }).toEqual({ hits: 1, misses: 2 });
  });
});

describe('vector index', () => {
  function randomVectors(n: number, dim: number, seed: number): Float32Array[] {
    let s = seed;
    const rand = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648 - 0.5;
    };
    return Array.from({ length: n }, () => {
      const v = Float32Array.from({ length: dim }, rand);
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
  }

  it('finds the same nearest neighbour as an exact scan for at least 95% of queries', () => {
    const vectors = randomVectors(5_000, 32, 7);
    const graph = new VectorIndex({ exactBelow: 100 });
    const exact = new VectorIndex({ exactBelow: 1_000_000 });
    vectors.forEach((v, i) => {
      graph.add(i, v);
      exact.add(i, v);
    });
    const queries = randomVectors(200, 32, 99);
    let agree = 0;
    for (const q of queries) if (graph.search(q, 1)[0]?.id === exact.search(q, 1)[0]?.id) agree++;
    expect(agree / queries.length).toBeGreaterThanOrEqual(0.95);
  });

  it('searches sparse (lexical) vectors exactly through an inverted index', async () => {
    const texts = Array.from(
      { length: 3_000 },
      (_, i) => `question ${i % 97} about topic ${(i * 31) % 113} and item ${i}`,
    );
    const vectors = await lexicalEmbedder().embed(texts);
    const index = new VectorIndex();
    vectors.forEach((v, i) => {
      index.add(i, v);
    });
    expect(index.kind).toBe('inverted');
    for (let i = 0; i < 1_000; i++) index.remove(i);
    for (const q of vectors.slice(0, 50)) {
      const brute = vectors
        .map((v, id) => ({ id, score: dot(q, v) }))
        .filter((x) => x.id >= 1_000)
        .sort((a, b) => b.score - a.score)
        .slice(0, 3);
      const found = index.search(q, 3);
      // Same scores in the same order (ties may list equal-scoring ids either way), each true.
      found.forEach((f, j) => {
        expect(f.id).toBeGreaterThanOrEqual(1_000);
        expect(f.score).toBeCloseTo(brute[j]!.score, 5);
        expect(f.score).toBeCloseTo(dot(q, vectors[f.id]!), 5);
      });
    }
  });

  it('never returns removed vectors, and rebuilds after many removals', () => {
    const vectors = randomVectors(600, 16, 3);
    const index = new VectorIndex({ exactBelow: 50 });
    vectors.forEach((v, i) => {
      index.add(i, v);
    });
    for (let i = 0; i < 400; i++) index.remove(i);
    expect(index.size).toBe(200);
    for (const q of vectors.slice(0, 50))
      for (const n of index.search(q, 5)) expect(n.id).toBeGreaterThanOrEqual(400);
    expect(index.search(vectors[450]!, 1)[0]?.id).toBe(450);
  });
});

describe('semantic tier on a manual clock', () => {
  it('does not answer with an expired entry', async () => {
    const clock = new ManualClock();
    const cache = await createCache({ tiers: [{ type: 'semantic', path: tempPath() }] }, { clock });
    caches.push(cache);
    await cache.withOptions({ ttlSeconds: 60 }).update('What time does support open?', LLM, answer('9am'));
    expect(await cache.lookup('what time does support open', LLM)).not.toBeNull();
    clock.advance(61_000);
    expect(await cache.lookup('what time does support open', LLM)).toBeNull();
  });
});

describe('semantic store upkeep and upgrades', () => {
  it('purges expired entries in the background', async () => {
    const clock = new ManualClock();
    const tier = new SemanticTier({
      embedder: lexicalEmbedder(),
      threshold: 0.8,
      path: ':memory:',
      maxEntries: 100,
      guards: [],
      candidates: 5,
      purgeIntervalMs: 10,
      clock,
    });
    try {
      const key = {
        namespace: 'n',
        llmString: 'l',
        prompt: 'How do I reset my password?',
        hash: 'h'.repeat(64),
      };
      const payload = 'x';
      await tier.set(key, {
        payload,
        size: 1,
        createdAt: clock.now(),
        expiresAt: clock.now() + 1_000,
        tags: [],
      });
      expect((await tier.stats()).entries).toBe(1);
      clock.advance(2_000);
      await expect.poll(async () => (await tier.stats()).entries, { timeout: 5_000 }).toBe(0);
    } finally {
      tier.close();
    }
  });

  it('opens a store of schema 1 (whole-prompt vectors): upgraded in place, old vectors left unloaded', async () => {
    const path = tempPath();
    const Database = (await import('better-sqlite3')).default;
    const raw = new Database(path);
    raw.exec(`CREATE TABLE semantic_entries (
      id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, namespace TEXT NOT NULL, llm_string TEXT NOT NULL,
      prompt TEXT NOT NULL, embedder TEXT NOT NULL, vector BLOB NOT NULL, payload TEXT NOT NULL, size INTEGER NOT NULL,
      created_at INTEGER NOT NULL, expires_at INTEGER, tags TEXT NOT NULL, bad INTEGER NOT NULL DEFAULT 0)`);
    raw
      .prepare(
        `INSERT INTO semantic_entries (hash, namespace, llm_string, prompt, embedder, vector, payload, size, created_at, tags)
         VALUES ('old', 'n', 'l', 'System: long prompt\nHuman: hi', ?, x'00', 'p', 1, 0, '[]')`,
      )
      .run(lexicalEmbedder().id);
    raw.pragma('user_version = 1');
    raw.close();
    const cache = await createCache({ tiers: [{ type: 'semantic', path }] }, { logger: { warn: () => {} } });
    caches.push(cache);
    expect((await cache.health()).status).toBe('up');
    expect((await cache.stats()).tiers[0]!.store!.entries).toBe(0);
    await cache.update('How do I reset my password?', 'llm', [{ text: 'Use the reset link.' }]);
    expect((await cache.lookup('how do I reset my password', 'llm'))?.[0]?.text).toBe('Use the reset link.');
    const again = new Database(path);
    expect(again.pragma('user_version', { simple: true })).toBe(2);
    expect(again.prepare('SELECT count(*) FROM semantic_entries').pluck().get()).toBe(2);
    again.close();
  });
});
