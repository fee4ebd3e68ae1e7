/**
 * `taskset -c 1 npm run bench -- embeddings [--chunks 10000] [--changed 0.1] [--latency 100]
 * [--batch 512] [--dims 256] [--repeats 5] [--no-gateway]`
 *
 * A re-indexing job: N document chunks embedded, then the same corpus again with a share of the
 * chunks edited (run twice). The embeddings model is a fake provider that counts its calls and
 * inputs and takes a fixed time per call (`--latency` ms), in batches of `--batch` texts one call
 * at a time, as a job under a rate limit sends them. Compared, each from an empty cache:
 *
 * - no cache: every chunk is embedded on both runs;
 * - `CacheBackedEmbeddings` over `createEmbeddingStore` on a SQLite tier, the re-index as a new
 *   process (a new engine on the same file);
 * - the same over memory + SQLite, the re-index in the same process (memory warm);
 * - the gateway (`createProxy`, memory + SQLite) in front of a fake `/v1/embeddings` with the
 *   same latency, sent the same batches as base64 (what the Node SDK asks for), against the
 *   fake called directly.
 *
 * The chunks are generated (deterministic pseudo-prose of ~600 characters), so the benchmark runs
 * from a clone with nothing beside it. Reported: provider calls, inputs embedded and wall time of
 * each run, medians over `--repeats`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CacheBackedEmbeddings } from '@langchain/classic/embeddings/cache_backed';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import { request } from 'undici';
import { createCache, createEmbeddingStore } from '../src/index.js';
import { createProxy } from '../src/proxy/index.js';
import { startFakeEmbeddings } from '../test/support/fake-embeddings.js';
import { median } from './harness.js';

const option = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const CHUNKS = option('chunks', 10_000);
const CHANGED = option('changed', 0.1);
const LATENCY_MS = option('latency', 100);
const BATCH = option('batch', 512);
const DIMS = option('dims', 256);
const REPEATS = option('repeats', 5);
const GATEWAY = !process.argv.includes('--no-gateway');
const MODEL = 'text-embedding-3-small';

const WORDS = (
  'cache tier entry vector index shard replica lease quorum token prompt answer model latency ' +
  'budget region failover backup restore schema column table query plan join filter window ' +
  'stream batch queue worker retry timeout circuit breaker metric alert dashboard tenant key ' +
  'digest policy rotation export import migration release rollback canary the a of to and in ' +
  'for with on by from is are was be as that this it which when each every one two three'
).split(' ');

/** Chunk `i` of the corpus, version `v` (an edited chunk is a new version of it). */
function chunk(i: number, v: number): string {
  let x = (i * 2_654_435_761 + v * 40_503 + 1) >>> 0;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  const words: string[] = [`Section ${i}.`];
  let length = 0;
  while (length < 600) {
    const w = WORDS[next() % WORDS.length]!;
    words.push(w);
    length += w.length + 1;
  }
  return `${words.join(' ')}.`;
}

/** The corpus of the first run, and of the re-index: every `1 / CHANGED`-th chunk edited. */
function corpora(): [string[], string[]] {
  const first = Array.from({ length: CHUNKS }, (_, i) => chunk(i, 0));
  const every = Math.round(1 / CHANGED);
  const second = first.map((c, i) => (i % every === every - 1 ? chunk(i, 1) : c));
  return [first, second];
}

/** A provider: `LATENCY_MS` per call, `BATCH` texts a call, one call at a time; counts both. */
class FakeProvider implements EmbeddingsInterface {
  calls = 0;
  inputs = 0;
  async embedDocuments(documents: string[]): Promise<number[][]> {
    const out: number[][] = [];
    for (let from = 0; from < documents.length; from += BATCH) {
      const batch = documents.slice(from, from + BATCH);
      this.calls++;
      this.inputs += batch.length;
      await sleep(LATENCY_MS);
      for (const d of batch) out.push(vector(d));
    }
    return out;
  }
  async embedQuery(document: string): Promise<number[]> {
    return (await this.embedDocuments([document]))[0]!;
  }
}

/** A deterministic vector with the digits of a real one (8 significant digits). */
function vector(text: string): number[] {
  let x = 2_166_136_261;
  for (let i = 0; i < text.length; i++) x = Math.imul(x ^ text.charCodeAt(i), 16_777_619) >>> 0;
  const v: number[] = new Array(DIMS);
  for (let i = 0; i < DIMS; i++) {
    x = Math.imul(x ^ (x >>> 15), 2_246_822_519) >>> 0;
    v[i] = Number(((x / 2 ** 32 - 0.5) / 8).toPrecision(8));
  }
  return v;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Run {
  calls: number;
  inputs: number;
  ms: number;
}

type Job = (texts: string[]) => Promise<unknown>;

/** One case: its first run and its re-index, each with what the provider was asked. */
interface Case {
  name: string;
  /** Makes a fresh setup: the job of each run, the provider's counters, and its teardown. */
  setup(): Promise<{
    runs: [Job, Job];
    counts: () => { calls: number; inputs: number };
    close(): Promise<void>;
  }>;
}

async function measure(c: Case, first: string[], second: string[]): Promise<[Run, Run]> {
  const s = await c.setup();
  const out: Run[] = [];
  try {
    for (const [k, texts] of [first, second].entries()) {
      const before = s.counts();
      const start = performance.now();
      const vectors = (await s.runs[k]!(texts)) as unknown[];
      const ms = performance.now() - start;
      if (vectors.length !== texts.length) throw new Error(`${c.name}: ${vectors.length} vectors`);
      const after = s.counts();
      out.push({ calls: after.calls - before.calls, inputs: after.inputs - before.inputs, ms });
    }
  } finally {
    await s.close();
  }
  return out as [Run, Run];
}

const tiers = (dir: string, memory: boolean) => [
  ...(memory ? [{ type: 'memory' as const, maxEntries: 100_000, maxBytes: 1024 * 1024 * 1024 }] : []),
  { type: 'sqlite' as const, path: join(dir, 'cache.db') },
];

function storeCase(name: string, memory: boolean, reopen: boolean): Case {
  return {
    name,
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'strata-bench-emb-'));
      const provider = new FakeProvider();
      const open = () => createCache({ tiers: tiers(dir, memory) }, { logger: { warn: () => {} } });
      let cache = await open();
      const embeddings = () =>
        CacheBackedEmbeddings.fromBytesStore(provider, createEmbeddingStore(cache, { model: MODEL }), {
          namespace: MODEL,
        });
      return {
        runs: [
          (texts) => embeddings().embedDocuments(texts),
          async (texts) => {
            if (reopen) {
              await cache.close();
              cache = await open();
            }
            return embeddings().embedDocuments(texts);
          },
        ],
        counts: () => ({ calls: provider.calls, inputs: provider.inputs }),
        async close() {
          await cache.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

const noCache: Case = {
  name: 'no cache (every chunk embedded)',
  async setup() {
    const provider = new FakeProvider();
    const job: Job = (texts) => provider.embedDocuments(texts);
    return {
      runs: [job, job],
      counts: () => ({ calls: provider.calls, inputs: provider.inputs }),
      close: async () => {},
    };
  },
};

/** The same batches as HTTP requests, to the fake directly or through the gateway. */
function httpCase(name: string, viaGateway: boolean): Case {
  return {
    name,
    async setup() {
      const fake = await startFakeEmbeddings();
      fake.delayMs = LATENCY_MS;
      const dir = mkdtempSync(join(tmpdir(), 'strata-bench-emb-gw-'));
      const proxy = viaGateway
        ? await createProxy(
            { tiers: tiers(dir, true), proxy: { port: 0, upstreams: [{ url: fake.url, api: 'openai' }] } },
            { logger: { warn: () => {} } },
          )
        : undefined;
      const base = proxy ? await proxy.listen() : fake.url;
      const job: Job = async (texts) => {
        const out: unknown[] = [];
        for (let from = 0; from < texts.length; from += BATCH) {
          const res = await request(`${base}/v1/embeddings`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-embeddings' },
            body: JSON.stringify({
              model: MODEL,
              input: texts.slice(from, from + BATCH),
              encoding_format: 'base64',
              dimensions: DIMS,
            }),
          });
          const body = (await res.body.json()) as { data: unknown[] };
          if (res.statusCode !== 200) throw new Error(`${name}: HTTP ${res.statusCode}`);
          out.push(...body.data);
        }
        return out;
      };
      return {
        runs: [job, job],
        counts: () => ({ calls: fake.calls.length, inputs: fake.inputs() }),
        async close() {
          await proxy?.close(500);
          await fake.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

const cases: Case[] = [
  noCache,
  storeCase('CacheBackedEmbeddings + createEmbeddingStore, SQLite (re-index: new process)', false, true),
  storeCase('CacheBackedEmbeddings + createEmbeddingStore, memory + SQLite (same process)', true, false),
  ...(GATEWAY
    ? [
        httpCase('HTTP batches to the fake /v1/embeddings directly', false),
        httpCase('HTTP batches through the gateway, memory + SQLite (per input)', true),
      ]
    : []),
];

const [first, second] = corpora();
console.log(
  `\n## embeddings: ${CHUNKS.toLocaleString('en-US')} chunks, ${Math.round(CHANGED * 100)}% edited for the re-index, ` +
    `${DIMS} dims, ${LATENCY_MS} ms per provider call of up to ${BATCH} texts, one call at a time; medians of ${REPEATS}\n`,
);
const results = cases.map(() => [] as [Run, Run][]);
// Interleaved: repeat r runs every case once, in rotating order.
for (let r = 0; r < REPEATS; r++)
  for (let k = 0; k < cases.length; k++) {
    const i = (r + k) % cases.length;
    results[i]!.push(await measure(cases[i]!, first, second));
  }
console.log('| case | run 1: calls | inputs | wall s | re-index: calls | inputs | wall s |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
const fmt = (runs: Run[], pick: (r: Run) => number, digits = 0) =>
  median(runs.map(pick)).toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
cases.forEach((c, i) => {
  const firsts = results[i]!.map((r) => r[0]);
  const seconds = results[i]!.map((r) => r[1]);
  console.log(
    `| ${c.name} | ${fmt(firsts, (r) => r.calls)} | ${fmt(firsts, (r) => r.inputs)} | ${fmt(firsts, (r) => r.ms / 1000, 2)} | ` +
      `${fmt(seconds, (r) => r.calls)} | ${fmt(seconds, (r) => r.inputs)} | ${fmt(seconds, (r) => r.ms / 1000, 2)} |`,
  );
});
