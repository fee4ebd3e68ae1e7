/**
 * How the shared store hands vectors to the running PostgreSQL + pgvector: binary parameters
 * that arrive bit for bit (and as the text form did), refused by the server when they hold NaN,
 * an infinity or the wrong dimension; halfvec tables, chosen or forced by the dimension; and a
 * table created before any of this (text-era, `vector(n)`) read as it is.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { semanticTables } from '../../../../test/support/pg-semantic-tables.js';
import { TierConfigError } from '../../../errors.js';
import { createCache } from '../../../langchain/create.js';
import { semanticTierSchema } from '../config.js';
import type { Vector } from '../vectors/vector.js';
import { type DenseColumnType, PostgresStore, vectorParam } from './postgres-store.js';
import type { Question } from './store.js';

const { url, raw, stores, freshPrefix } = semanticTables<PostgresStore>('v', 2);

const EMBEDDER = 'vectors-test-embedder';
/** The entries table of EMBEDDER under a prefix, as the store names it. */
const tableOf = (prefix: string) =>
  `${prefix}semantic_${createHash('sha256').update(EMBEDDER).digest('hex').slice(0, 12)}`;

function open(tablePrefix: string, vectorType?: DenseColumnType): PostgresStore {
  const store = new PostgresStore({
    url,
    poolSize: 2,
    connectTimeoutMs: 2_000,
    tablePrefix,
    embedderId: EMBEDDER,
    maxEntries: 1_000,
    ...(vectorType ? { vectorType } : {}),
  });
  stores.push(store);
  return store;
}

function question(hash: string): Question {
  return {
    hash,
    namespace: 'ns',
    llmString: 'llm',
    prompt: `prompt ${hash}`,
    query: `query ${hash}`,
    context: '',
    partition: 'p',
    createdAt: 0,
    expiresAt: null,
    tags: [],
    size: 1,
  };
}

/** The stored vector as pgvector sends it (its binary output), for a byte comparison. */
async function storedBytes(table: string, hash: string, as = 'vector'): Promise<Buffer> {
  const { rows } = await raw.query<{ bytes: Buffer }>(
    `SELECT ${as}_send(vector) AS bytes FROM ${table} WHERE hash = $1`,
    [hash],
  );
  return rows[0]!.bytes;
}

async function columnType(table: string): Promise<{ type: string; ops: string }> {
  const { rows } = await raw.query<{ type: string; ops: string }>(
    `SELECT format_type(a.atttypid, a.atttypmod) AS type,
            (SELECT o.opcname FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0]
               WHERE i.indexrelid = to_regclass($1 || '_vector')) AS ops
       FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = 'vector'`,
    [table],
  );
  return rows[0]!;
}

const unit = (...xs: number[]) => {
  const v = Float32Array.from(xs);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe('PostgreSQL store: vectors as binary parameters', () => {
  it('stores float32 vectors bit for bit, the bits the text form stored (and -0, which it lost)', async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    // Values whose decimal text is long or special: thirds, -0, a subnormal, the largest float32.
    const awkward = Float32Array.from([1 / 3, -0, 1.4e-45, 3.4028234663852886e38, 0.1, -2.5e-7, 1e-38, 7]);
    await store.put(question('a'), awkward, '{}');
    const table = tableOf(prefix);
    const bytes = await storedBytes(table, 'a');
    expect(bytes.equals(vectorParam(awkward))).toBe(true);
    const back = new Float32Array(awkward.length);
    for (let i = 0; i < back.length; i++) back[i] = bytes.readFloatBE(4 + 4 * i);
    expect(Buffer.from(back.buffer).equals(Buffer.from(awkward.buffer))).toBe(true);
    // What the text-era store sent for the same vector ('[x,y,...]', JS's rendering of each float).
    await raw.query(
      `INSERT INTO ${table} (hash, partition, namespace, llm_string, context, prompt, query, vector, payload, size, created_at, tags)
       VALUES ('t', 'p', 'ns', 'llm', '', 'p', 'q', $1, '{}', 1, 0, '{}')`,
      [`[${Array.prototype.join.call(awkward, ',')}]`],
    );
    // The same bits, but for -0: JS renders it '0', so the text form lost its sign.
    const text = await storedBytes(table, 't');
    expect(text.subarray(12).equals(bytes.subarray(12))).toBe(true);
    expect(text.subarray(0, 8).equals(bytes.subarray(0, 8))).toBe(true);
    expect([text.readUInt32BE(8), bytes.readUInt32BE(8)]).toEqual([0, 0x8000_0000]);
  });

  it('sends sparse vectors in sparsevec binary form, exactly', async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    const sparse: Vector = {
      dim: 1 << 20,
      idx: Uint32Array.from([0, 17, 4_096, (1 << 20) - 1]),
      val: Float32Array.from([0.5, 1 / 3, -0.25, 1e-30]),
    };
    await store.put(question('s'), sparse, '{}');
    expect((await storedBytes(tableOf(prefix), 's', 'sparsevec')).equals(vectorParam(sparse))).toBe(true);
    const [found] = await store.nearest('p', sparse, 1, 0);
    expect(found?.hash).toBe('s');
    expect(found?.score).toBeCloseTo(1, 6);
  });

  it('searches with a binary query vector: the nearest first, scores as cosine similarity', async () => {
    const store = open(freshPrefix());
    await store.put(question('x'), unit(1, 0, 0, 0), '{}');
    await store.put(question('xy'), unit(1, 1, 0, 0), '{}');
    await store.put(question('z'), unit(0, 0, 1, 0), '{}');
    const found = await store.nearest('p', unit(1, 0.2, 0, 0), 3, 0);
    expect(found.map((c) => c.hash)).toEqual(['x', 'xy', 'z']);
    expect(found[0]!.score).toBeCloseTo(1 / Math.hypot(1, 0.2), 6);
    expect(found[2]!.score).toBeCloseTo(0, 6);
  });

  it('NaN and infinities are refused by the server, in a put and in a search', async () => {
    const store = open(freshPrefix());
    await store.put(question('ok'), unit(1, 2, 3), '{}');
    await expect(store.put(question('nan'), Float32Array.from([1, Number.NaN, 0]), '{}')).rejects.toThrow(
      /NaN not allowed/,
    );
    await expect(
      store.nearest('p', Float32Array.from([1, Number.POSITIVE_INFINITY, 0]), 1, 0),
    ).rejects.toThrow(/infinite value not allowed/);
    // Neither left anything behind, and the store still serves.
    expect((await store.counts()).entries).toBe(1);
    expect((await store.nearest('p', unit(1, 2, 3), 1, 0))[0]?.hash).toBe('ok');
  });

  it('a vector of the wrong dimension is refused, in a put and in a search', async () => {
    const store = open(freshPrefix());
    await store.put(question('four'), unit(1, 2, 3, 4), '{}');
    await expect(store.put(question('three'), unit(1, 2, 3), '{}')).rejects.toThrow(
      /expected 4 dimensions, not 3/,
    );
    await expect(store.nearest('p', unit(1, 2, 3), 1, 0)).rejects.toThrow(
      /different vector dimensions 4 and 3/,
    );
    expect(() => vectorParam(new Float32Array(0))).toThrow(RangeError);
  });
});

describe('PostgreSQL store: halfvec', () => {
  it("vectorType 'halfvec' creates a halfvec column and index and searches it", async () => {
    const prefix = freshPrefix();
    const store = open(prefix, 'halfvec');
    await store.put(question('x'), unit(1, 0, 0, 0), '{}');
    await store.put(question('xy'), unit(1, 1, 0, 0), '{}');
    await store.put(question('z'), unit(0, 0, 1, 0), '{}');
    expect(await columnType(tableOf(prefix))).toEqual({ type: 'halfvec(4)', ops: 'halfvec_cosine_ops' });
    const found = await store.nearest('p', unit(1, 0.2, 0, 0), 3, 0);
    expect(found.map((c) => c.hash)).toEqual(['x', 'xy', 'z']);
    // float16 keeps about three significant digits.
    expect(found[0]!.score).toBeCloseTo(1 / Math.hypot(1, 0.2), 3);
    // The search uses the halfvec index (the query vector is cast to halfvec, not the column to vector).
    const client = await raw.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT hash FROM ${tableOf(prefix)} ORDER BY vector <=> '[1,0,0,0]'::vector::halfvec LIMIT 1`,
      );
      expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toContain(
        `Index Scan using ${tableOf(prefix)}_vector`,
      );
    } finally {
      client.release(true);
    }
  });

  it('above 2,000 dimensions a new table is halfvec; vector there, or above 4,000, is a config error naming the field', async () => {
    const wide = unit(...Array.from({ length: 2_048 }, (_, i) => Math.sin(i + 1)));
    const prefix = freshPrefix();
    const store = open(prefix);
    await store.put(question('wide'), wide, '{}');
    expect(await columnType(tableOf(prefix))).toEqual({ type: 'halfvec(2048)', ops: 'halfvec_cosine_ops' });
    expect((await store.nearest('p', wide, 1, 0))[0]?.hash).toBe('wide');

    const asVector = open(freshPrefix(), 'vector');
    const refused = asVector.put(question('wide'), wide, '{}');
    await expect(refused).rejects.toThrow(TierConfigError);
    await expect(refused).rejects.toThrow(/store\.vectorType: 'vector' .* 2048; use 'halfvec'/);
    await expect(
      open(freshPrefix()).put(question('huge'), new Float32Array(4_001).fill(1), '{}'),
    ).rejects.toThrow(/at most 4000 dimensions/);
  });
});

describe('PostgreSQL store: a table created before binary parameters and vectorType', () => {
  /** The text-era layout: `vector(n)` and `vector_cosine_ops`, rows written with text literals. */
  async function legacyTable(prefix: string): Promise<string> {
    const table = tableOf(prefix);
    await raw.query(
      `CREATE TABLE ${table} (
         hash text PRIMARY KEY, partition text NOT NULL, namespace text NOT NULL, llm_string text NOT NULL,
         context text NOT NULL, prompt text NOT NULL, query text NOT NULL, vector vector(3) NOT NULL,
         payload text NOT NULL, size integer NOT NULL, created_at bigint NOT NULL, expires_at bigint NULL,
         tags text[] NOT NULL, bad boolean NOT NULL DEFAULT false)`,
    );
    await raw.query(`CREATE INDEX ${table}_partition ON ${table} (partition)`);
    await raw.query(`CREATE INDEX ${table}_vector ON ${table} USING hnsw (vector vector_cosine_ops)`);
    return table;
  }

  it('is read and written as it is, its type unchanged', async () => {
    const prefix = freshPrefix();
    const table = await legacyTable(prefix);
    // The text-era store hashed the partition as this one does: search with a row the new store wrote.
    const store = open(prefix);
    await store.put(question('new'), unit(0, 1, 0), '{"n":1}');
    const { rows } = await raw.query<{ partition: string }>(
      `SELECT partition FROM ${table} WHERE hash = 'new'`,
    );
    await raw.query(
      `INSERT INTO ${table} (hash, partition, namespace, llm_string, context, prompt, query, vector, payload, size, created_at, tags)
       VALUES ('old', $1, 'ns', 'llm', '', 'old prompt', 'old query', '[1,0,0]', '{"o":1}', 1, 0, '{}')`,
      [rows[0]!.partition],
    );
    const found = await store.nearest('p', unit(1, 0.1, 0), 2, 0);
    expect(found.map((c) => c.hash)).toEqual(['old', 'new']);
    expect(await store.payload('old')).toBe('{"o":1}');
    expect(await columnType(table)).toEqual({ type: 'vector(3)', ops: 'vector_cosine_ops' });
    // Naming the type it has is fine too.
    expect((await open(prefix, 'vector').nearest('p', unit(1, 0, 0), 1, 0))[0]?.hash).toBe('old');
  });

  it("vectorType 'halfvec' on it is refused, naming the field, and changes nothing", async () => {
    const prefix = freshPrefix();
    const table = await legacyTable(prefix);
    const store = open(prefix, 'halfvec');
    await expect(store.nearest('p', unit(1, 0, 0), 1, 0)).rejects.toThrow(
      /store\.vectorType: 'halfvec', but .* already stores vector\(3\)/,
    );
    await expect(store.put(question('x'), unit(1, 0, 0), '{}')).rejects.toThrow(TierConfigError);
    await expect(store.check()).rejects.toThrow(/store\.vectorType/);
    expect(await columnType(table)).toEqual({ type: 'vector(3)', ops: 'vector_cosine_ops' });
  });
});

describe('store.vectorType in the config', () => {
  it('reaches the store: a halfvec table for an embedder given in the config; other values are refused', async () => {
    const prefix = freshPrefix();
    const embed = (text: string) => Array.from({ length: 8 }, (_, i) => 1 + ((text.length * (i + 1)) % 5));
    const cache = await createCache(
      {
        tiers: [
          {
            type: 'semantic',
            threshold: 0.9,
            embeddings: { embedQuery: async (t) => embed(t), embedDocuments: async (ts) => ts.map(embed) },
            store: { type: 'postgres', url, tablePrefix: prefix, vectorType: 'halfvec' },
          },
        ],
      },
      { logger: { warn: () => {} } },
    );
    try {
      await cache.update('How do I reset my password?', 'llm', [{ text: 'Settings.' }]);
      const { rows } = await raw.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE tablename LIKE $1 || 'semantic_%' AND tablename NOT LIKE '%_labels'",
        [prefix],
      );
      expect(rows.length).toBe(1);
      expect(await columnType(rows[0]!.name)).toEqual({ type: 'halfvec(8)', ops: 'halfvec_cosine_ops' });
    } finally {
      await cache.close();
    }
    const refused = semanticTierSchema.safeParse({
      type: 'semantic',
      store: { type: 'postgres', url, vectorType: 'float16' },
    });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(['store', 'vectorType']);
  });
});
