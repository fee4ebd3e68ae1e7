/**
 * Encryption at rest against every persistent tier's real backend (docs/encryption.md): a canary
 * prompt, answer and metadata written through the engine appear in no tier's bytes (SQLite's db,
 * -wal and -shm; every Redis key under the prefix, by DUMP; every column of the PostgreSQL and
 * MySQL rows; FerretDB's documents, GridFS files and chunks; both semantic stores; the export),
 * and every tier still answers with the keys, and misses (counted as corrupt) with a wrong key,
 * a payload copied from another row, or a flipped bit.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, RESP_TYPES } from '@redis/client';
import { BSON, MongoClient } from 'mongodb';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TierConfig } from '../../src/config/schema.js';
import { keyForSealedTier } from '../../src/core/encryption/at-rest.js';
import type { EncryptionConfig } from '../../src/core/encryption/keyring.js';
import { isSealed } from '../../src/core/encryption/keyring.js';
import type { StoredEntry } from '../../src/core/entry.js';
import { deriveKey } from '../../src/core/key.js';
import { createStrata } from '../../src/engine/create.js';
import type { Strata } from '../../src/engine/strata.js';
import { cli } from '../support/cli.js';
import { service } from '../support/services.js';

const redisUrl = service('redis').STRATA_TEST_REDIS_URL!;
const mysqlUrl = service('mariadb').STRATA_TEST_MYSQL_URL!;
const pgUrl = service('postgres').STRATA_TEST_POSTGRES_URL!;
const mongoUrl = service('ferretdb').STRATA_TEST_MONGODB_URL!;

const run = randomUUID().replaceAll('-', '').slice(0, 10);
const tablePrefix = `enc${run}_`;
const redisPrefix = `strata-enc-${run}`;
const mongoDatabase = `enc${run}`;
const dir = mkdtempSync(join(tmpdir(), 'strata-canary-'));

const KEY_ENV = `STRATA_TEST_CANARY_KEY_${run}`;
const WRONG_ENV = `STRATA_TEST_CANARY_WRONG_${run}`;
const env = {
  [KEY_ENV]: randomBytes(32).toString('base64'),
  [WRONG_ENV]: randomBytes(32).toString('base64'),
};
const right: EncryptionConfig = { keys: [{ id: 'k1', keyEnv: KEY_ENV }], active: 'k1' };
const wrong: EncryptionConfig = { keys: [{ id: 'k1', keyEnv: WRONG_ENV }], active: 'k1' };

const TIERS: Record<string, TierConfig> = {
  sqlite: { type: 'sqlite', path: join(dir, 'cache.db'), purgeIntervalSeconds: 0 },
  redis: { type: 'redis', url: redisUrl, keyPrefix: redisPrefix, bus: false },
  postgres: { type: 'postgres', url: pgUrl, tablePrefix, purgeIntervalSeconds: 0 },
  mysql: { type: 'mysql', url: mysqlUrl, tablePrefix, purgeIntervalSeconds: 0 },
  mongodb: {
    type: 'mongodb',
    url: mongoUrl,
    database: mongoDatabase,
    collection: 'llm_cache',
    gridfsThresholdBytes: 4096,
    purgeIntervalSeconds: 0,
  },
  semantic: {
    type: 'semantic',
    name: 'semantic',
    embeddings: 'lexical',
    path: join(dir, 'semantic.db'),
    purgeIntervalSeconds: 0,
  },
  'semantic-pg': {
    type: 'semantic',
    name: 'semantic-pg',
    embeddings: 'lexical',
    store: { type: 'postgres', url: pgUrl, tablePrefix },
    purgeIntervalSeconds: 0,
  },
} as Record<string, TierConfig>;
const EXACT = ['sqlite', 'redis', 'postgres', 'mysql', 'mongodb'];
const NS = `enc-${run}`;

/** A unique text in Latin and Chinese script, so no stored byte holds it by chance. */
const canary = (label: string) =>
  `${label}-${randomBytes(8).toString('hex')} 机密的${randomBytes(4).toString('hex')}内容`;
const PROMPT = canary('prompt');
const ANSWER = `${canary('answer')} ${'长答案 long answer '.repeat(600)}`; // ~ 14 KB: GridFS
const META = canary('meta');
/** LangChain's llm string carries request content (here a bound tool's description); tiers index it. */
const TOOL = canary('tool');
const LLM = `model:"sim-1",temperature:0,tools:[{"name":"find_clause","description":"${TOOL}"}]`;
/** What the answer starts with: the part that is unique. */
const ANSWER_MARK = ANSWER.slice(0, 40);
const CANARIES = [PROMPT, ANSWER_MARK, META, TOOL];

const forms = (text: string): Buffer[] => {
  const utf8 = Buffer.from(text, 'utf8');
  return [utf8, Buffer.from(text, 'utf16le'), Buffer.from(utf8.toString('base64').slice(0, 24))];
};

function expectNoCanary(where: string, bytes: Buffer): void {
  for (const text of CANARIES)
    for (const form of forms(text))
      expect(bytes.includes(form), `${where} holds ${text.slice(0, 30)}`).toBe(false);
}

const redis = createClient({ url: redisUrl }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
const mysql = await createConnection({ uri: mysqlUrl, charset: 'utf8mb4_bin' });
const pgPool = new pg.Pool({ connectionString: pgUrl, max: 2 });
pgPool.on('error', () => {});
const mongo = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5_000 });
const opened: Strata[] = [];

async function open(tiers: string[], encryption: EncryptionConfig): Promise<Strata> {
  const strata = await createStrata(
    { namespace: NS, coalesceWaitMs: 0, tiers: tiers.map((t) => TIERS[t]!), encryption },
    { env, logger: { warn: () => {} } },
  );
  opened.push(strata);
  return strata;
}

async function pgTables(): Promise<string[]> {
  const { rows } = await pgPool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_name LIKE $1`,
    [`${tablePrefix}%`],
  );
  return rows.map((r) => r.table_name);
}

async function mysqlTables(): Promise<string[]> {
  const [rows] = await mysql.query(`SHOW TABLES LIKE '${tablePrefix}%'`);
  return (rows as Record<string, string>[]).map((r) => Object.values(r)[0]!);
}

const key = deriveKey(NS, LLM, PROMPT);
const other = deriveKey(NS, LLM, canary('other prompt'));

beforeAll(async () => {
  await redis.connect();
  await mongo.connect();
  const strata = await open(Object.keys(TIERS), right);
  await strata.update(key, [{ text: ANSWER }], { tags: ['canary'], metadata: { note: META } });
  await strata.update(other, [{ text: 'the other answer' }], { tags: ['canary'] });
  await strata.flushWrites();
});

afterAll(async () => {
  await Promise.allSettled(opened.splice(0).map((s) => s.close()));
  let cursor = '0';
  do {
    const reply = await redis.scan(cursor, { MATCH: `${redisPrefix}:*`, COUNT: 500 });
    cursor = reply.cursor.toString();
    if (reply.keys.length > 0) await redis.del(reply.keys);
  } while (cursor !== '0');
  await redis.quit();
  for (const t of await pgTables()) await pgPool.query(`DROP TABLE IF EXISTS ${t} CASCADE`);
  await pgPool.end();
  await mysql.query('SET FOREIGN_KEY_CHECKS = 0');
  for (const t of await mysqlTables()) await mysql.query(`DROP TABLE IF EXISTS ${t}`);
  await mysql.end();
  await mongo.db(mongoDatabase).dropDatabase();
  await mongo.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('encryption at rest: a canary in no tier', () => {
  it('every tier holds a sealed payload for the key', async () => {
    const strata = opened[0]!;
    for (const name of EXACT) {
      const held = await strata.tier(name)!.get(key);
      expect(typeof held === 'string' && isSealed(held), name).toBe(true);
    }
    for (const name of ['semantic', 'semantic-pg']) {
      // A sealed tier is told the llm string's digest (encryption/at-rest.ts), and partitions by it.
      const held = await strata.tier(name)!.get(keyForSealedTier(key));
      expect(held && typeof held !== 'string' && isSealed(held.payload), name).toBe(true);
    }
  });

  it('SQLite db, -wal and -shm, and the semantic file', () => {
    const files = readdirSync(dir);
    expect(files).toEqual(
      expect.arrayContaining(['cache.db', 'cache.db-wal', 'cache.db-shm', 'semantic.db']),
    );
    for (const file of files) expectNoCanary(file, readFileSync(join(dir, file)));
  });

  it('Redis: DUMP of every key under the prefix', async () => {
    let cursor = '0';
    let keys = 0;
    do {
      const reply = await redis.scan(cursor, { MATCH: `${redisPrefix}:*`, COUNT: 500 });
      cursor = reply.cursor.toString();
      for (const k of reply.keys) {
        const dumped = await redis.dump(k);
        expect(dumped).not.toBeNull();
        expectNoCanary(`redis DUMP ${k}`, Buffer.from(dumped as unknown as Buffer));
        // DUMP compresses long strings (LZF), which could hide a canary: the values too.
        const type = (await redis.type(k)).toString();
        const values: Buffer[] =
          type === 'string'
            ? [(await redis.get(k))!]
            : type === 'set'
              ? await redis.sMembers(k)
              : type === 'hash'
                ? Object.values(await redis.hGetAll(k))
                : [];
        expect(values.length, `redis ${k} (${type})`).toBeGreaterThan(0);
        for (const value of values) expectNoCanary(`redis ${k}`, Buffer.from(value));
        keys++;
      }
    } while (cursor !== '0');
    expect(keys).toBeGreaterThanOrEqual(3); // two entries and a tag set
  });

  it('PostgreSQL: every column of every row of the exact tier and the pgvector store', async () => {
    const tables = await pgTables();
    expect(tables.some((t) => t.includes('semantic_'))).toBe(true);
    expect(tables).toContain(`${tablePrefix}cache`);
    let rows = 0;
    for (const t of tables) {
      const result = await pgPool.query<{ row: string }>(`SELECT t::text AS row FROM ${t} t`);
      for (const r of result.rows) expectNoCanary(`postgres ${t}`, Buffer.from(r.row));
      rows += result.rows.length;
    }
    expect(rows).toBeGreaterThanOrEqual(4);
  });

  it('MySQL: every column of every row', async () => {
    const tables = await mysqlTables();
    expect(tables).toContain(`${tablePrefix}cache`);
    let rows = 0;
    for (const t of tables) {
      const [result] = await mysql.query(`SELECT * FROM ${t}`);
      for (const row of result as Record<string, unknown>[]) {
        rows++;
        for (const [column, value] of Object.entries(row)) {
          const bytes = Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value) ?? '');
          expectNoCanary(`mysql ${t}.${column}`, bytes);
        }
      }
    }
    expect(rows).toBeGreaterThanOrEqual(2);
  });

  it('FerretDB: every document, GridFS files and chunks included', async () => {
    const db = mongo.db(mongoDatabase);
    const collections = (await db.listCollections().toArray()).map((c) => c.name);
    expect(collections).toEqual(
      expect.arrayContaining(['llm_cache', 'llm_cache_fs.files', 'llm_cache_fs.chunks']),
    );
    let chunks = 0;
    for (const name of collections) {
      for (const doc of await db.collection(name).find({}).toArray()) {
        expectNoCanary(`mongodb ${name}`, Buffer.from(BSON.serialize(doc)));
        if (name === 'llm_cache_fs.chunks') chunks++;
      }
    }
    expect(chunks).toBeGreaterThan(0);
  });

  it('the export of each tier holds sealed lines only', async () => {
    Object.assign(process.env, env);
    try {
      // Not Redis: `strata export` finds a Redis tier "down: not connected yet" (with or without
      // encryption), a limitation of the CLI's health check left for its own change.
      for (const name of ['sqlite', 'postgres', 'mysql', 'mongodb', 'semantic', 'semantic-pg']) {
        const config = join(dir, `export-${name}.json`);
        writeFileSync(config, JSON.stringify({ namespace: NS, tiers: [TIERS[name]], encryption: right }));
        const dump = join(dir, `export-${name}.jsonl`);
        const result = await cli('export', '--config', config, '--file', dump);
        expect(result.code, `${name}: ${result.err.join('\n')}`).toBe(0);
        const text = readFileSync(dump);
        expect(text.toString().trim().split('\n').length, name).toBe(2);
        expectNoCanary(`export of ${name}`, text);
        rmSync(dump);
      }
    } finally {
      for (const name of Object.keys(env)) delete process.env[name];
    }
  });
});

describe('encryption at rest: hits with the keys, misses without', () => {
  for (const name of [...EXACT, 'semantic', 'semantic-pg']) {
    it(`${name}: answers with the right key, misses (corrupt) with a wrong one`, async () => {
      const good = await open([name], right);
      const hit = await good.lookup(key);
      expect(hit?.tier).toBe(name);
      expect(hit?.entry.gens[0]?.text).toBe(ANSWER);
      const bad = await open([name], wrong);
      expect(await bad.lookup(key)).toBeUndefined();
      if (name.startsWith('semantic')) {
        // Its question text does not open: the candidate is never compared, and is counted.
        expect((await bad.tier(name)!.stats()).unopened).toBe(1);
      } else {
        expect((await bad.stats()).tiers[0]!.corrupt).toBe(1);
      }
      // Left in place: the right key still opens it.
      expect((await good.lookup(key))?.entry.gens[0]?.text).toBe(ANSWER);
    });
  }

  for (const name of EXACT) {
    it(`${name}: a payload copied from another row, or with a flipped bit, is a miss counted as corrupt`, async () => {
      const strata = await open([name], right);
      const tier = strata.tier(name)!;
      const ours = (await tier.get(key)) as string;
      const theirs = (await tier.get(other)) as string;
      const stored = (payload: string): StoredEntry => ({
        payload,
        size: Buffer.byteLength(payload),
        createdAt: Date.now(),
        expiresAt: null,
        tags: [],
      });
      try {
        // The other entry's sealed payload in this key's row: never the other answer.
        await tier.set(key, stored(theirs));
        expect(await strata.lookup(key)).toBeUndefined();
        expect((await strata.stats()).tiers[0]!.corrupt).toBe(1);
        // One character of the sealed body changed (a bit or more of the ciphertext or tag).
        const at = ours.length - 10;
        const flipped = ours.slice(0, at) + (ours[at] === 'A' ? 'B' : 'A') + ours.slice(at + 1);
        await tier.set(key, stored(flipped));
        expect(await strata.lookup(key)).toBeUndefined();
        expect((await strata.stats()).tiers[0]!.corrupt).toBe(2);
      } finally {
        await tier.set(key, stored(ours));
      }
      expect((await strata.lookup(key))?.entry.gens[0]?.text).toBe(ANSWER);
    });
  }

  it('semantic-pg: a payload copied from another row of the pgvector store is a miss counted as corrupt', async () => {
    const [table] = (await pgTables()).filter((t) => t.includes('semantic_'));
    const { rows } = await pgPool.query<{ payload: string; query: string }>(
      `SELECT payload, query FROM ${table} WHERE hash = $1`,
      [key.hash],
    );
    const { payload: ours, query: ourQuery } = rows[0]!;
    const strata = await open(['semantic-pg'], right);
    try {
      await pgPool.query(
        `UPDATE ${table} SET payload = (SELECT payload FROM ${table} WHERE hash = $2) WHERE hash = $1`,
        [key.hash, other.hash],
      );
      expect(await strata.lookup(key)).toBeUndefined();
      expect((await strata.stats()).tiers[0]!.corrupt).toBe(1);
      // The question text of another row: the candidate is never compared, so a miss.
      await pgPool.query(`UPDATE ${table} SET payload = $2 WHERE hash = $1`, [key.hash, ours]);
      await pgPool.query(
        `UPDATE ${table} SET query = (SELECT query FROM ${table} WHERE hash = $2) WHERE hash = $1`,
        [key.hash, other.hash],
      );
      expect(await strata.lookup(key)).toBeUndefined();
    } finally {
      await pgPool.query(`UPDATE ${table} SET payload = $2, query = $3 WHERE hash = $1`, [
        key.hash,
        ours,
        ourQuery,
      ]);
    }
    expect((await strata.lookup(key))?.entry.gens[0]?.text).toBe(ANSWER);
  });
});

describe("encryption at rest: another instance's answer", () => {
  it('a lookup waiting on another instance through Redis opens the sealed answer it stores', async () => {
    const instance = async () => {
      const strata = await createStrata(
        {
          namespace: NS,
          coalesceWaitMs: 10_000,
          tiers: [{ type: 'memory' }, TIERS.redis!],
          encryption: right,
        },
        { env, logger: { warn: () => {} } },
      );
      opened.push(strata);
      return strata;
    };
    const [a, b] = [await instance(), await instance()];
    const k = deriveKey(NS, LLM, canary('coalesced prompt'));
    // A misses and claims the key in Redis; B misses and waits for A's answer.
    expect(await a.lookup(k)).toBeUndefined();
    const waiting = b.lookup(k);
    // B's miss is in flight (its Redis read, then its claim, which A holds): give the claim time
    // to be refused before A's answer lands, or B would take the released key over.
    while ((await b.stats({ store: false })).inFlight === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await a.update(k, [{ text: 'computed once' }]);
    const hit = await waiting;
    expect(hit?.coalesced).toBe(true);
    expect(hit?.tier).toBe('redis');
    expect(hit?.entry.gens[0]?.text).toBe('computed once');
    // Backfilled into B's memory tier in clear (volatile), so its next hit is a memory hit.
    expect(((await b.tier('memory')!.get(k)) as string).startsWith('{')).toBe(true);
    expect((await b.lookup(k))?.tier).toBe('memory');
  });
});
