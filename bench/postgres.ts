/**
 * PostgreSQL (18, pgvector 0.8.5, started by scripts/services.sh), two parts.
 *
 * Exact tier: a postgres-tier hit through StrataCache.lookup vs the floor, a raw node-postgres
 * prepared primary-key SELECT of the same row. Sequential with the server (the postmaster and every
 * backend it forks) pinned to core 0 and the client on core 0 too, then on core 1; 32 in flight on two. LangChain.js has no
 * Postgres-backed LLM cache to compare with (its Postgres integrations are vector stores).
 *
 * Shared semantic store at 100,000 entries: the Quora questions of `npm run bench --
 * semantic-start` (its store in .strata-bench/ is reused; run that first), copied once into a
 * pgvector table through the store itself, and from there into a halfvec table (issue 32). For
 * 300 unseen questions, interleaved: the nearest-neighbour search of pgvector's HNSW (one SQL
 * round trip, partition filter included) with the query vector as a binary parameter (the store)
 * and as the text literal it was before, on the halfvec table, and the in-process HNSW of the
 * local store; beside every latency, how often the top answer is the exact top answer (recall@1
 * against a full float32 scan). Then where a pgvector search's time goes (round trip, planning,
 * execution from EXPLAIN ANALYZE, the rest on the client), and the server's shared_buffers next
 * to the table and index sizes. Then, in fresh processes, each store's start-up: createCache, the
 * first lookup, and 300 full lookups (embedding + search + guards + read).
 *
 * `npm run bench -- postgres`; STRATA_BENCH_SEMANTIC=0 runs the exact part only.
 * STRATA_BENCH_POSTGRES_URL (+ STRATA_BENCH_POSTGRES_PID, the postmaster's, to pin it) measures a
 * server of your own instead of scripts/services.sh's.
 */
import { execFileSync } from 'node:child_process';
import { createHash, hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { deserializeStoredGeneration, serializeGeneration } from '@langchain/core/caches';
import type { StoredGeneration } from '@langchain/core/messages';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createCache, deriveKey } from '../src/index.js';
import { onnxEmbedder } from '../src/tiers/semantic/embedders/onnx.js';
import { LocalStore } from '../src/tiers/semantic/stores/local-store.js';
import { PostgresStore, vectorParam } from '../src/tiers/semantic/stores/postgres-store.js';
import { partitionOf } from '../src/tiers/semantic/stores/store.js';
import { vectorFromBytes } from '../src/tiers/semantic/vectors/bytes.js';
import { dot } from '../src/tiers/semantic/vectors/vector.js';
import {
  chatAnswer,
  compare,
  compareConcurrent,
  embedAll,
  measureSemanticStart,
  median,
  OPENAI_LIKE_LLM_KEY,
  percentile,
  pin,
  prompts,
  quoraQuestions,
  report,
  reportConcurrent,
  SEMANTIC_DATA,
} from './harness.js';
import { useServices } from './services.js';

const N = 100_000;
const ROOT = join(import.meta.dirname, '..');
const SQLITE_STORE = join(ROOT, '.strata-bench', `semantic-${N}.db`);
const TABLE_PREFIX = 'bench_';
const HALF_PREFIX = 'benchh_';
/** The store's table of an embedder under a prefix (postgres-store.ts). */
const tableOf = (prefix: string, embedderId: string) =>
  `${prefix}semantic_${createHash('sha256').update(embedderId).digest('hex').slice(0, 12)}`;

if (process.argv[2] === 'start') {
  const [kind, pgUrl] = [process.argv[3]!, process.argv[4]!];
  await measureSemanticStart(
    kind === 'shared'
      ? {
          type: 'semantic',
          embeddings: 'onnx',
          maxEntries: N,
          purgeIntervalSeconds: 0,
          store: { type: 'postgres', url: pgUrl, tablePrefix: TABLE_PREFIX },
        }
      : { type: 'semantic', embeddings: 'onnx', path: SQLITE_STORE, maxEntries: N, purgeIntervalSeconds: 0 },
    N,
  );
  process.exit(0);
}

const own = process.env.STRATA_BENCH_POSTGRES_URL;
const services = own ? undefined : useServices(['postgres']);
const serverPid = services
  ? services.pid('postgres', 'postgres')
  : Number(process.env.STRATA_BENCH_POSTGRES_PID ?? 0);
const url = own ?? services!.env.STRATA_TEST_POSTGRES_URL!;
// Backends are forked by the postmaster when a client connects and inherit its CPU: pinned first.
if (serverPid) pinTree(serverPid, 0);

if (process.env.STRATA_BENCH_EXACT !== '0') await exactTier();
if (process.env.STRATA_BENCH_SEMANTIC !== '0') await sharedSemanticStore();
services?.stop();

async function exactTier(): Promise<void> {
  const keys = prompts(1_000);
  const strata = await createCache({
    tiers: [{ type: 'postgres', url, tablePrefix: TABLE_PREFIX, poolSize: 10 }],
  });
  for (let i = 0; i < keys.length; i++) await strata.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));
  const hashes = keys.map((k) => deriveKey('default', OPENAI_LIKE_LLM_KEY, k).hash);
  const raw = new pg.Pool({ connectionString: url, max: 10 });
  const select = (hash: string) =>
    raw.query({
      name: 'bench_get',
      text: `SELECT response FROM ${TABLE_PREFIX}cache WHERE key_hash = $1`,
      values: [hash],
    });
  if (!(await strata.lookup(keys[1]!, OPENAI_LIKE_LLM_KEY)))
    throw new Error('benchmark setup: strata missed');
  if ((await select(hashes[1]!)).rows.length !== 1) throw new Error('benchmark setup: raw missed');

  // The floor any correct LangChain cache has, with its key: a collision-resistant hash of prompt
  // and llm key (SHA-256, as LangChain's caches), the SELECT, then the stored generations parsed
  // into fresh LangChain messages. Its own table, so Strata's decode-once cannot help it.
  const floorTable = `${TABLE_PREFIX}floor`;
  await raw.query(
    `CREATE TABLE IF NOT EXISTS ${floorTable} (key_hash text PRIMARY KEY, response text NOT NULL)`,
  );
  const keyedHash = (prompt: string) => hash('sha256', `${prompt}_${OPENAI_LIKE_LLM_KEY}`, 'hex');
  for (let i = 0; i < keys.length; i++)
    await raw.query(
      `INSERT INTO ${floorTable} VALUES ($1, $2) ON CONFLICT (key_hash) DO UPDATE SET response = excluded.response`,
      [keyedHash(keys[i]!), JSON.stringify(chatAnswer(i).map((g) => serializeGeneration(g)))],
    );
  const keyedFloor = (prompt: string) =>
    raw
      .query<{ response: string }>({
        name: 'bench_floor_get',
        text: `SELECT response FROM ${floorTable} WHERE key_hash = $1`,
        values: [keyedHash(prompt)],
      })
      .then(({ rows }) =>
        rows[0]
          ? (JSON.parse(rows[0].response) as StoredGeneration[]).map((g) => deserializeStoredGeneration(g))
          : null,
      );

  const cases = [
    {
      name: 'raw node-postgres prepared PK SELECT (floor)',
      op: (i: number) => select(hashes[i % keys.length]!),
    },
    {
      name: 'SHA-256 key + SELECT + JSON.parse + LangChain messages (the floor, with its key)',
      op: (i: number) => keyedFloor(keys[i % keys.length]!),
    },
    {
      name: 'Strata postgres tier, StrataCache.lookup',
      op: (i: number) => strata.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
    },
  ];
  // Two sequential placements: sharing the server's core (the cheapest round trip, where every
  // µs of client code shows) and on the other core, as with a database on its own host.
  pin(process.pid, 0);
  report(
    'postgres: sequential hit latency (client and server pinned to one core)',
    await compare(cases, { rounds: 11, opsPerRound: 1_000, warmupOps: 1_000 }),
  );
  pin(process.pid, 1);
  report(
    'postgres: sequential hit latency (server on core 0, client on core 1)',
    await compare(cases, { rounds: 11, opsPerRound: 1_000, warmupOps: 1_000 }),
  );
  reportConcurrent(
    'postgres: 32 concurrent lookups (client and server on different cores)',
    await compareConcurrent(cases, { inFlight: 32, batches: 30, rounds: 9 }),
    2,
  );
  await strata.close();
  await raw.end();
}

async function sharedSemanticStore(): Promise<void> {
  if (!existsSync(SQLITE_STORE) || !existsSync(SEMANTIC_DATA)) {
    console.log(
      `\npostgres, shared semantic store: not run; it reuses ${SQLITE_STORE}, which \`npm run bench -- semantic-start\` builds from ${SEMANTIC_DATA}.`,
    );
    return;
  }
  pin(process.pid, 1);
  const db = new Database(SQLITE_STORE, { readonly: true });
  const rows = db
    .prepare(
      'SELECT hash, namespace, llm_string, prompt, query, context, embedder, vector, payload, size, created_at, expires_at, tags FROM semantic_entries WHERE bad = 0 AND query IS NOT NULL',
    )
    .all() as Array<{
    hash: string;
    namespace: string;
    llm_string: string;
    prompt: string;
    query: string;
    context: string;
    embedder: string;
    vector: Buffer;
    payload: string;
    size: number;
    created_at: number;
    expires_at: number | null;
    tags: string;
  }>;
  db.close();
  const embedderId = rows[0]!.embedder;
  const partition = partitionOf(rows[0]!.namespace, rows[0]!.llm_string, rows[0]!.context);
  /** A SQLite store row as the PostgreSQL store's entry. */
  const entryOf = (r: (typeof rows)[number]) => ({
    hash: r.hash,
    namespace: r.namespace,
    llmString: r.llm_string,
    prompt: r.prompt,
    query: r.query,
    context: r.context,
    partition,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    tags: JSON.parse(r.tags) as string[],
    size: r.size,
  });
  const vectors = rows.map((r) => vectorFromBytes(r.vector) as Float32Array);
  const shared = new PostgresStore({
    url,
    poolSize: 16,
    connectTimeoutMs: 5_000,
    tablePrefix: TABLE_PREFIX,
    embedderId,
    maxEntries: N,
  });
  if ((await shared.counts()).entries < rows.length) {
    // A copy cut short before: only what is missing is stored.
    const present = new Set<string>();
    const raw = new pg.Pool({ connectionString: url, max: 1 });
    const { rows: tables } = await raw.query<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE tablename LIKE '${TABLE_PREFIX}semantic_%'`,
    );
    for (const { name } of tables) {
      const { rows: hashes } = await raw.query<{ hash: string }>(`SELECT hash FROM ${name}`);
      for (const { hash } of hashes) present.add(hash);
    }
    await raw.end();
    const missing = rows.map((_, i) => i).filter((i) => !present.has(rows[i]!.hash));
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let j = next++; j < missing.length; j = next++) {
          const i = missing[j]!;
          const r = rows[i]!;
          await shared.put(entryOf(r), vectors[i]!, r.payload);
        }
      }),
    );
    console.log(
      `\ncopied ${missing.length.toLocaleString('en-US')} entries into pgvector (HNSW built as they came, 16 at a time): ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
  // The same entries as halfvec, copied on the server (the table made by the store, so its layout).
  const half = new PostgresStore({
    url,
    poolSize: 4,
    connectTimeoutMs: 5_000,
    tablePrefix: HALF_PREFIX,
    embedderId,
    maxEntries: N,
    vectorType: 'halfvec',
  });
  const vectorTable = tableOf(TABLE_PREFIX, embedderId);
  const halfTable = tableOf(HALF_PREFIX, embedderId);
  if ((await half.counts()).entries < rows.length) {
    const r = rows[0]!;
    await half.put(entryOf(r), vectors[0]!, r.payload);
    const t0 = performance.now();
    const raw = new pg.Pool({ connectionString: url, max: 1 });
    await raw.query(
      `INSERT INTO ${halfTable} SELECT hash, partition, namespace, llm_string, context, prompt, query,
         vector::halfvec, payload, size, created_at, expires_at, tags, bad FROM ${vectorTable} ON CONFLICT (hash) DO NOTHING`,
    );
    await raw.end();
    console.log(
      `\ncopied the entries into a halfvec table on the server (HNSW built as they came): ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
  const local = new LocalStore({ path: SQLITE_STORE, embedderId, maxEntries: N, readonly: true });

  const modelPath = execFileSync('bash', [join(ROOT, 'scripts', 'models.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .at(-1)!;
  const onnx = await onnxEmbedder({ modelPath });
  const probes = quoraQuestions().slice(N, N + 300);
  const probeVectors = (await embedAll(onnx, probes)) as Float32Array[];

  // The text-era search, for comparison: the same SQL with the vector as a '[x,y,...]' literal.
  const textPool = new pg.Pool({ connectionString: url, max: 1 });
  await textPool.query('SET hnsw.iterative_scan = strict_order; SET hnsw.ef_search = 100');
  const digest = createHash('sha256').update(Buffer.from(partition, 'utf16le')).digest('base64url');
  const textSearch = async (q: Float32Array) => {
    const { rows } = await textPool.query<{ hash: string }>(
      `SELECT hash, prompt, query, vector <=> $1 AS distance, expires_at FROM ${vectorTable}
        WHERE partition = $2 AND NOT bad AND (expires_at IS NULL OR expires_at > $3)
        ORDER BY vector <=> $1 LIMIT $4`,
      [`[${Array.prototype.join.call(q, ',')}]`, digest, Date.now(), 5],
    );
    return rows;
  };
  const cases = [
    {
      name: 'pgvector HNSW, vector(384), binary parameter (the store now)',
      search: async (q: Float32Array) => (await shared.nearest(partition, q, 5, Date.now()))[0]?.hash,
    },
    {
      name: 'pgvector HNSW, vector(384), text parameter (the store before)',
      search: async (q: Float32Array) => (await textSearch(q))[0]?.hash,
    },
    {
      name: 'pgvector HNSW, halfvec(384), binary parameter',
      search: async (q: Float32Array) => (await half.nearest(partition, q, 5, Date.now()))[0]?.hash,
    },
    {
      name: 'in-process HNSW, local store (ef 64)',
      search: async (q: Float32Array) => local.nearest(partition, q, 5)[0]?.hash,
    },
  ];
  const times = cases.map(() => [] as number[]);
  const agree = cases.map(() => 0);
  for (const q of probeVectors.slice(0, 30)) for (const c of cases) await c.search(q);
  for (const [p, q] of probeVectors.entries()) {
    let best = -2;
    let exact = '';
    for (let i = 0; i < vectors.length; i++) {
      const s = dot(q, vectors[i]!);
      if (s > best) {
        best = s;
        exact = rows[i]!.hash;
      }
    }
    // Interleaved, in rotating order, so drift and cache effects fall on every case alike.
    for (let j = 0; j < cases.length; j++) {
      const c = (p + j) % cases.length;
      const t = performance.now();
      const found = await cases[c]!.search(q);
      times[c]!.push(performance.now() - t);
      if (found === exact) agree[c]!++;
    }
  }

  console.log(
    `\n### semantic search at ${rows.length.toLocaleString('en-US')} entries (onnx MiniLM), ${probes.length} unseen questions, top 5, ef_search 100\n`,
  );
  console.log('| index | search p50 ms | search p99 ms | recall@1 vs exact scan |');
  console.log('|---|---:|---:|---:|');
  for (const [c, { name }] of cases.entries())
    console.log(
      `| ${name} | ${median(times[c]!).toFixed(3)} | ${percentile(times[c]!, 0.99).toFixed(3)} | ${((100 * agree[c]!) / probes.length).toFixed(1)}% |`,
    );

  // Where a search's time goes: one pooled connection's round trip, then the server's planning and
  // execution of the store's query (EXPLAIN ANALYZE, buffers), the rest being the client's.
  const profilePool = new pg.Pool({ connectionString: url, max: 1 });
  await profilePool.query('SET hnsw.iterative_scan = strict_order; SET hnsw.ef_search = 100');
  const { rows: settings } = await profilePool.query<{
    buffers: string;
    vsize: string;
    vindex: string;
    hsize: string;
    hindex: string;
  }>(
    `SELECT current_setting('shared_buffers') AS buffers,
            pg_size_pretty(pg_table_size('${vectorTable}')) AS vsize, pg_size_pretty(pg_relation_size('${vectorTable}_vector')) AS vindex,
            pg_size_pretty(pg_table_size('${halfTable}')) AS hsize, pg_size_pretty(pg_relation_size('${halfTable}_vector')) AS hindex`,
  );
  const roundTrip: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    await profilePool.query('SELECT 1');
    roundTrip.push(performance.now() - t);
  }
  console.log(
    `\nshared_buffers ${settings[0]!.buffers}; vector table ${settings[0]!.vsize} (its HNSW index ${settings[0]!.vindex}), halfvec table ${settings[0]!.hsize} (index ${settings[0]!.hindex}); round trip (SELECT 1) p50 ${median(roundTrip).toFixed(3)} ms\n`,
  );
  console.log(
    '| pgvector search, stage medians | total ms | planning ms | execution ms | client + protocol ms | shared buffers hit / read |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [c, table, cast] of [
    [0, vectorTable, '$1::vector'],
    [2, halfTable, '$1::vector::halfvec'],
  ] as const) {
    const planning: number[] = [];
    const execution: number[] = [];
    const hit: number[] = [];
    const read: number[] = [];
    for (const q of probeVectors) {
      const { rows: plan } = await profilePool.query<{ 'QUERY PLAN': ExplainJson[] }>(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT hash, prompt, query, vector <=> ${cast} AS distance, expires_at FROM ${table}
          WHERE partition = $2 AND NOT bad AND (expires_at IS NULL OR expires_at > $3) ORDER BY vector <=> ${cast} LIMIT $4`,
        [vectorParam(q), digest, Date.now(), 5],
      );
      const top = plan[0]!['QUERY PLAN'][0]!;
      planning.push(top['Planning Time']);
      execution.push(top['Execution Time']);
      hit.push(top.Plan['Shared Hit Blocks']);
      read.push(top.Plan['Shared Read Blocks']);
    }
    const total = median(times[c]!);
    const rest = total - median(roundTrip) - median(planning) - median(execution);
    console.log(
      `| ${cases[c]!.name} | ${total.toFixed(3)} | ${median(planning).toFixed(3)} | ${median(execution).toFixed(3)} | ${rest.toFixed(3)} (round trip ${median(roundTrip).toFixed(3)}) | ${median(hit)} / ${median(read)} |`,
    );
  }
  await profilePool.end();
  await textPool.end();
  local.close();
  await shared.close();
  await half.close();

  // The fresh processes get both cores, as an application would (the onnx embedder uses threads).
  execFileSync('taskset', ['-a', '-p', '-c', '0,1', String(process.pid)], { stdio: 'ignore' });
  if (serverPid) pinTree(serverPid, 0);
  console.log(
    `\n### semantic tier start-up with ${rows.length.toLocaleString('en-US')} entries, each in a fresh process\n`,
  );
  console.log('| store | createCache s | first lookup ms | lookup p50 ms | lookup p99 ms |');
  console.log('|---|---:|---:|---:|---:|');
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  for (const [name, kind] of [
    ['PostgreSQL + pgvector (shared)', 'shared'],
    ['SQLite file + saved HNSW graph (local)', 'local'],
  ] as const) {
    const out = execFileSync(process.execPath, ['--import', tsx, import.meta.filename, 'start', kind, url], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    console.log(`| ${name} | ${out.trim()} |`);
  }
}

/** The parts of EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) read here. */
interface ExplainJson {
  'Planning Time': number;
  'Execution Time': number;
  Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number };
}

/** Pins a process and its children (the postmaster and its backends) to one CPU. */
function pinTree(pid: number, cpu: number): void {
  pin(pid, cpu);
  let children = '';
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  } catch {
    // none yet
  }
  for (const child of children.split('\n').filter(Boolean)) pin(Number(child), cpu);
}
