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
 * pgvector table through the store itself. For 300 unseen questions: the nearest-neighbour search
 * of pgvector's HNSW (one SQL round trip, partition filter included) vs the in-process HNSW of the
 * local store, and how often each one's top answer is the exact top answer (recall@1 against a
 * full scan). Then, in fresh processes, each store's start-up: createCache, the first lookup, and
 * 300 full lookups (embedding + search + guards + read).
 *
 * `npm run bench -- postgres`; STRATA_BENCH_SEMANTIC=0 runs the exact part only.
 */
import { execFileSync } from 'node:child_process';
import { hash } from 'node:crypto';
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
import { PostgresStore } from '../src/tiers/semantic/stores/postgres-store.js';
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

const services = useServices(['postgres']);
const { env } = services;
const serverPid = services.pid('postgres', 'postgres');
const url = env.STRATA_TEST_POSTGRES_URL!;
// Backends are forked by the postmaster when a client connects and inherit its CPU: pinned first.
pinTree(serverPid, 0);

await exactTier();
if (process.env.STRATA_BENCH_SEMANTIC !== '0') await sharedSemanticStore();
services.stop();

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
          await shared.put(
            {
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
            },
            vectors[i]!,
            r.payload,
          );
        }
      }),
    );
    console.log(
      `\ncopied ${missing.length.toLocaleString('en-US')} entries into pgvector (HNSW built as they came, 16 at a time): ${((performance.now() - t0) / 1000).toFixed(0)} s`,
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

  const times = { shared: [] as number[], local: [] as number[] };
  const agree = { shared: 0, local: 0 };
  for (const q of probeVectors.slice(0, 30)) {
    await shared.nearest(partition, q, 5, Date.now());
    local.nearest(partition, q, 5);
  }
  for (const q of probeVectors) {
    let best = -2;
    let exact = '';
    for (let i = 0; i < vectors.length; i++) {
      const s = dot(q, vectors[i]!);
      if (s > best) {
        best = s;
        exact = rows[i]!.hash;
      }
    }
    let t = performance.now();
    const [fromShared] = await shared.nearest(partition, q, 5, Date.now());
    times.shared.push(performance.now() - t);
    t = performance.now();
    const [fromLocal] = local.nearest(partition, q, 5);
    times.local.push(performance.now() - t);
    if (fromShared?.hash === exact) agree.shared++;
    if (fromLocal?.hash === exact) agree.local++;
  }
  local.close();
  await shared.close();

  console.log(
    `\n### semantic search at ${rows.length.toLocaleString('en-US')} entries (onnx MiniLM), ${probes.length} unseen questions, top 5\n`,
  );
  console.log('| index | search p50 ms | search p99 ms | recall@1 vs exact scan |');
  console.log('|---|---:|---:|---:|');
  for (const [name, key] of [
    ['pgvector HNSW, shared store (one SQL round trip, partition filter)', 'shared'],
    ['in-process HNSW, local store', 'local'],
  ] as const) {
    console.log(
      `| ${name} | ${median(times[key]).toFixed(3)} | ${percentile(times[key], 0.99).toFixed(3)} | ${((100 * agree[key]) / probes.length).toFixed(1)}% |`,
    );
  }

  // The fresh processes get both cores, as an application would (the onnx embedder uses threads).
  execFileSync('taskset', ['-a', '-p', '-c', '0,1', String(process.pid)], { stdio: 'ignore' });
  pinTree(serverPid, 0);
  console.log('\n### semantic tier start-up with 100,000 entries, each in a fresh process\n');
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
