import { randomUUID } from 'node:crypto';
import { GridFSBucket, MongoClient, ObjectId } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { killMidLoop } from '../../../test/support/kill-drill.js';
import { service } from '../../../test/support/services.js';
import { ManualClock } from '../../core/clock.js';
import { ENTRY_VERSION, encodeEntry } from '../../core/entry.js';
import { deriveKey } from '../../core/key.js';
import { createCache } from '../../langchain/create.js';
import { describeTierConformance } from '../../testing/conformance.js';
import { MongodbTier, type MongodbTierOptions } from './index.js';

const url = service('ferretdb').STRATA_TEST_MONGODB_URL!;
const raw = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 });
afterAll(async () => {
  await raw.close();
});
const quiet = { warn: () => {} };
const freshDatabase = () => `t${randomUUID().replaceAll('-', '').slice(0, 12)}`;

function tier(
  database: string,
  clock = new ManualClock(Date.now()),
  extra: Partial<MongodbTierOptions> = {},
) {
  return new MongodbTier({
    url,
    database,
    collection: 'llm_cache',
    gridfsThresholdBytes: 1024 * 1024,
    poolSize: 5,
    connectTimeoutMs: 2_000,
    purgeIntervalMs: 0,
    clock,
    ...extra,
  });
}

/** A stored entry for `key`, with an answer of `bytes` characters. */
function stored(
  clock: ManualClock,
  prompt: string,
  text: string,
  extra: { tags?: string[]; llm?: string } = {},
) {
  const key = deriveKey('default', extra.llm ?? 'llm', prompt);
  const entry = encodeEntry({
    v: ENTRY_VERSION,
    k: key.hash,
    ns: key.namespace,
    createdAt: clock.now(),
    expiresAt: null,
    tags: extra.tags ?? [],
    gens: [{ text }],
    llm: key.llmString,
    prompt,
  });
  return { key, entry };
}

/** GridFS files and chunks that no document points to, and chunks without a file. */
async function orphans(database: string): Promise<{ files: number; chunks: number; filesTotal: number }> {
  const db = raw.db(database);
  const referenced = new Set(
    (await db.collection('llm_cache').find({ 'response.storage': 'gridfs' }).toArray()).map((d) =>
      String(d.response.gridfsId),
    ),
  );
  const files = await db.collection('llm_cache_fs.files').find().toArray();
  const fileIds = new Set(files.map((f) => String(f._id)));
  const chunks = await db
    .collection('llm_cache_fs.chunks')
    .find({}, { projection: { files_id: 1 } })
    .toArray();
  return {
    files: files.filter((f) => !referenced.has(String(f._id))).length,
    chunks: chunks.filter((c) => !fileIds.has(String(c.files_id)) || !referenced.has(String(c.files_id)))
      .length,
    filesTotal: files.length,
  };
}

describeTierConformance('mongodb (FerretDB)', async (clock) => {
  const database = freshDatabase();
  return {
    tier: tier(database, clock),
    corrupt: async (key, bytes) => {
      await raw
        .db(database)
        .collection('llm_cache')
        .updateOne(
          { _id: key.hash as unknown as ObjectId },
          { $set: { response: { storage: 'inline', content: bytes, size: bytes.length, encoding: 'utf8' } } },
        );
    },
    cleanup: async () => {
      await raw.db(database).dropDatabase();
    },
  };
});

describe('mongodb tier', () => {
  it('round-trips an 8 MiB answer through GridFS and leaves no orphan after overwrite and delete', async () => {
    const database = freshDatabase();
    const clock = new ManualClock(Date.now());
    const t = tier(database, clock);
    try {
      const big = `${'大'.repeat(1000)}🚀\u0000${'x'.repeat(8 * 1024 * 1024)}`;
      const first = stored(clock, 'write me a novel', big);
      expect(await t.set(first.key, first.entry)).toBe(true);
      expect(await t.get(first.key)).toBe(first.entry.payload);
      const doc = await raw
        .db(database)
        .collection('llm_cache')
        .findOne({ _id: first.key.hash as never });
      expect(doc?.response).toMatchObject({ storage: 'gridfs', size: first.entry.size, encoding: 'utf8' });
      expect(doc?.response.content).toBeUndefined();
      expect(await orphans(database)).toEqual({ files: 0, chunks: 0, filesTotal: 1 });

      const second = stored(clock, 'write me a novel', `${big}, revised`);
      await t.set(second.key, second.entry);
      expect(await t.get(second.key)).toBe(second.entry.payload);
      expect(await orphans(database)).toEqual({ files: 0, chunks: 0, filesTotal: 1 });

      const small = stored(clock, 'write me a novel', 'a haiku instead');
      await t.set(small.key, small.entry);
      expect(await t.get(small.key)).toBe(small.entry.payload);
      expect(await orphans(database)).toEqual({ files: 0, chunks: 0, filesTotal: 0 });

      await t.set(second.key, second.entry);
      expect(await t.delete(second.key)).toBe(true);
      expect(await t.get(second.key)).toBeUndefined();
      expect(await orphans(database)).toEqual({ files: 0, chunks: 0, filesTotal: 0 });
      expect(await raw.db(database).collection('llm_cache_fs.chunks').countDocuments()).toBe(0);
    } finally {
      await t.close();
      await raw.db(database).dropDatabase();
    }
  });

  it('delete removes every GridFS file of its key, also one no document names (a lost write)', async () => {
    const database = freshDatabase();
    const clock = new ManualClock(Date.now());
    const t = tier(database, clock, { gridfsThresholdBytes: 1024 });
    try {
      const entry = stored(clock, 'a long answer', 'z'.repeat(64 * 1024));
      await t.set(entry.key, entry.entry);
      // A file of the same key that no document points to, as a write whose document was lost leaves.
      const bucket = new GridFSBucket(raw.db(database), { bucketName: 'llm_cache_fs' });
      await new Promise<void>((resolve, reject) => {
        const stream = bucket.openUploadStream(entry.key.hash, { metadata: { key_hash: entry.key.hash } });
        stream.once('finish', () => resolve()).once('error', reject);
        stream.end(Buffer.from('y'.repeat(8 * 1024)));
      });
      // And another key's file, which must stay.
      const other = stored(clock, 'another long answer', 'w'.repeat(64 * 1024));
      await t.set(other.key, other.entry);
      expect(await orphans(database)).toMatchObject({ files: 1, filesTotal: 3 });
      expect(await t.delete(entry.key)).toBe(true);
      expect(await orphans(database)).toEqual({ files: 0, chunks: 0, filesTotal: 1 });
      expect(await t.get(other.key)).toBe(other.entry.payload);
    } finally {
      await t.close();
      await raw.db(database).dropDatabase();
    }
  });

  it('removes GridFS files with clear, invalidateTag and purge', async () => {
    const database = freshDatabase();
    const clock = new ManualClock(Date.now());
    const t = tier(database, clock, { gridfsThresholdBytes: 1024 });
    try {
      const large = (prompt: string, tags: string[]) => stored(clock, prompt, 'y'.repeat(4096), { tags });
      for (const [prompt, tags] of [
        ['a', ['keep']],
        ['b', ['drop']],
        ['c', []],
      ] as const) {
        const e = large(prompt, [...tags]);
        await t.set(e.key, e.entry);
      }
      const expiring = stored(clock, 'd', 'z'.repeat(4096));
      await t.set(expiring.key, { ...expiring.entry, expiresAt: clock.now() + 1_000 });
      expect((await orphans(database)).filesTotal).toBe(4);

      expect(await t.invalidateTag('drop')).toBe(1);
      expect(await orphans(database)).toEqual({ files: 0, chunks: 0, filesTotal: 3 });
      clock.advance(2_000);
      expect(await t.purgeExpired()).toBe(1);
      expect(await orphans(database)).toEqual({ files: 0, chunks: 0, filesTotal: 2 });
      expect(await t.clear()).toBe(2);
      expect(await orphans(database)).toEqual({ files: 0, chunks: 0, filesTotal: 0 });
    } finally {
      await t.close();
      await raw.db(database).dropDatabase();
    }
  });

  it('leaves no orphan when the document write fails after the upload', async () => {
    const database = freshDatabase();
    const clock = new ManualClock(Date.now());
    const t = tier(database, clock, { gridfsThresholdBytes: 1024 });
    try {
      const e = stored(clock, 'big', 'q'.repeat(300_000));
      // Fault injection: the server refuses the document write (after the GridFS upload succeeded).
      const docs = (t as unknown as { docs: { findOneAndUpdate: (...args: unknown[]) => Promise<unknown> } })
        .docs;
      const real = docs.findOneAndUpdate;
      docs.findOneAndUpdate = () => Promise.reject(new Error('injected: write refused'));
      await expect(t.set(e.key, e.entry)).rejects.toThrow('injected');
      docs.findOneAndUpdate = real;
      expect(await orphans(database)).toEqual({ files: 0, chunks: 0, filesTotal: 0 });
      expect(await raw.db(database).collection('llm_cache_fs.chunks').countDocuments()).toBe(0);
    } finally {
      await t.close();
      await raw.db(database).dropDatabase();
    }
  });

  it('sweeps what a crashed writer left (chunks without a file, unreferenced files), sparing uploads in flight', async () => {
    const database = freshDatabase();
    const clock = new ManualClock(Date.now());
    const t = tier(database, clock, { gridfsThresholdBytes: 1024, orphanGraceMs: 60_000 });
    try {
      const live = stored(clock, 'live', 'l'.repeat(5_000));
      await t.set(live.key, live.entry);
      const db = raw.db(database);
      const old = ObjectId.createFromTime(Math.floor(Date.now() / 1000) - 3_600);
      const oldFile = ObjectId.createFromTime(Math.floor(Date.now() / 1000) - 7_200);
      const inFlight = new ObjectId();
      // Half an upload from an hour ago (chunks, no file entry); a finished upload whose document
      // write never happened; and an upload that started just now.
      await db.collection('llm_cache_fs.chunks').insertMany([
        { files_id: old, n: 0, data: Buffer.from('half') },
        { files_id: old, n: 1, data: Buffer.from('way') },
        { files_id: oldFile, n: 0, data: Buffer.from('done') },
        { files_id: inFlight, n: 0, data: Buffer.from('uploading') },
      ]);
      await db
        .collection('llm_cache_fs.files')
        .insertOne({ _id: oldFile, length: 4, chunkSize: 261_120, uploadDate: new Date(), filename: 'x' });
      await t.purgeExpired();
      const left = await db
        .collection('llm_cache_fs.chunks')
        .find({}, { projection: { files_id: 1 } })
        .toArray();
      expect(left.map((c) => String(c.files_id)).sort()).toEqual(
        [String(inFlight), String((await db.collection('llm_cache').findOne())?.response.gridfsId)].sort(),
      );
      expect(await db.collection('llm_cache_fs.files').countDocuments()).toBe(1);
      expect(await t.get(live.key)).toBe(live.entry.payload);
      expect((await t.stats()).orphanFilesRemoved).toBe(2);
    } finally {
      await t.close();
      await raw.db(database).dropDatabase();
    }
  });

  it('never returns an expired entry on a server without TTL indexes, and purges it', async () => {
    const database = freshDatabase();
    const clock = new ManualClock(Date.now());
    const cache = await createCache(
      { defaultTtlSeconds: 60, tiers: [{ type: 'mongodb', url, database, purgeIntervalSeconds: 0 }] },
      { logger: quiet, clock },
    );
    try {
      await cache.update('ephemeral', 'llm', [{ text: 'for a minute' }]);
      expect((await cache.lookup('ephemeral', 'llm'))?.[0]?.text).toBe('for a minute');
      clock.advance(61_000);
      expect(await cache.lookup('ephemeral', 'llm')).toBeNull();
      const t = cache.strata.tiers[0] as MongodbTier;
      expect((await t.stats()).ttlIndex).toBe(0); // FerretDB 1.x: no TTL indexes
      // The manager removed it on the read; write it again and let the purge find it.
      await cache.update('ephemeral', 'llm', [{ text: 'again' }]);
      clock.advance(61_000);
      expect(await raw.db(database).collection('llm_cache').countDocuments()).toBe(1);
      expect(await t.purgeExpired()).toBe(1);
      expect(await raw.db(database).collection('llm_cache').countDocuments()).toBe(0);
    } finally {
      await cache.close();
      await raw.db(database).dropDatabase();
    }
  });

  it('stores $-operators and dots in prompts, tags and metadata literally (no operator injection)', async () => {
    const database = freshDatabase();
    const cache = await createCache({ tiers: [{ type: 'mongodb', url, database }] }, { logger: quiet });
    const injected = ['{"$gt": ""}', 'a.b', '$where'];
    try {
      for (const text of injected) {
        await cache
          .withOptions({ tags: [text], metadata: { [text]: text, nested: { 'x.y': 1 } } })
          .update(text, 'llm', [{ text: `answer to ${text}` }]);
      }
      await cache.withOptions({ tags: ['plain'] }).update('plain', 'llm', [{ text: 'plain answer' }]);
      for (const text of injected) {
        const hit = await cache.lookupWithInfo(text, 'llm');
        expect(hit?.generations[0]?.text).toBe(`answer to ${text}`);
      }
      // Each operator-looking tag is stored as a plain string and finds exactly its own entry.
      const stored = raw.db(database).collection('llm_cache');
      for (const text of injected) {
        const found = await stored.find({ tags: { $all: [text] } }).toArray();
        expect(found.map((f) => f.prompt)).toEqual([text]);
      }
      expect(await stored.countDocuments({ tags: { $all: ['$where'] }, llm_string: 'other' })).toBe(0);
      expect(await cache.invalidateTag('{"$gt": ""}')).toBe(1);
      expect(await cache.lookup('{"$gt": ""}', 'llm')).toBeNull();
      expect((await cache.lookup('a.b', 'llm'))?.[0]?.text).toBe('answer to a.b');
      expect((await cache.lookup('plain', 'llm'))?.[0]?.text).toBe('plain answer');
      const doc = await raw.db(database).collection('llm_cache').findOne({ prompt: '$where' });
      expect(doc?.tags).toEqual(['$where']);
      expect(JSON.parse(doc?.metadata_json)).toEqual({ $where: '$where', nested: { 'x.y': 1 } });
    } finally {
      await cache.close();
      await raw.db(database).dropDatabase();
    }
  });

  it('keeps one document per llm key with usage and cache_version, and reports stats by aggregation', async () => {
    const database = freshDatabase();
    const cache = await createCache(
      { tiers: [{ type: 'mongodb', url, database, gridfsThresholdBytes: 2048 }] },
      { logger: quiet },
    );
    try {
      const { AIMessage } = await import('@langchain/core/messages');
      const reply = (text: string) => ({
        text,
        message: new AIMessage({
          content: text,
          usage_metadata: { input_tokens: 10, output_tokens: 5, total_tokens: 15 },
        }),
      });
      await cache.update('Same prompt', 'model:"a"', [reply('from a')]);
      await cache.update('Same prompt', 'model:"b"', [reply('from b')]);
      await cache.update('Same prompt', 'model:"b"', [reply('from b, again')]);
      await cache.update('Big one', 'model:"a"', [{ text: 'w'.repeat(5_000) }]);
      expect((await cache.lookup('Same prompt', 'model:"a"'))?.[0]?.text).toBe('from a');
      expect((await cache.lookup('Same prompt', 'model:"b"'))?.[0]?.text).toBe('from b, again');
      const docs = await raw
        .db(database)
        .collection('llm_cache')
        .find({ prompt: 'Same prompt' })
        .sort({ llm_string: 1 })
        .toArray();
      expect(docs.map((d) => [d.llm_string, d.cache_version, d.usage])).toEqual([
        ['model:"a"', 1, { inputTokens: 10, outputTokens: 5, totalTokens: 15 }],
        ['model:"b"', 2, { inputTokens: 10, outputTokens: 5, totalTokens: 15 }],
      ]);
      const t = cache.strata.tiers[0] as MongodbTier;
      await t.close(); // flushes the batched hit counts
      const reopened = tier(database);
      try {
        const stats = await reopened.stats();
        expect(stats).toMatchObject({ entries: 3, totalHits: 2, gridfsFiles: 1, namespaces: { default: 3 } });
        expect(stats.gridfsBytes).toBeGreaterThan(5_000);
        expect(stats.averageBytes).toBeCloseTo(stats.bytes / 3);
      } finally {
        await reopened.close();
      }
    } finally {
      await cache.close();
      await raw.db(database).dropDatabase();
    }
  });

  it('survives FerretDB killed mid-loop: misses, no exception, and serves again after a restart', async () => {
    const database = freshDatabase();
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          {
            type: 'mongodb',
            url,
            database,
            timeoutMs: 500,
            connectTimeoutMs: 500,
            breaker: { cooldownMs: 200, maxCooldownMs: 1_000 },
          },
        ],
      },
      { logger: quiet },
    );
    try {
      await killMidLoop(cache, { service: 'ferretdb', process: 'ferretdb' });
    } finally {
      await cache.close();
      await raw.db(database).dropDatabase();
    }
  });
});
