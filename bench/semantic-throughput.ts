/**
 * Semantic lookups per second with the onnx embedder (all-MiniLM-L6-v2), at 1, 8 and 64 lookups
 * in flight, with and without micro-batching (embedders/batcher.ts), in one process: issue 32.
 *
 * One semantic tier (`:memory:` store, 5,000 Quora questions from ../shared/data/semantic) serves
 * every case; each case swaps in its embedder, so the store, the index and the probes are the
 * same. A lookup is a full `tier.get` of a question not stored (embedding + search + guards +
 * read), never the same text twice in a round and no embedding cache. Cases run interleaved,
 * rounds in rotating order (harness.ts compareConcurrent: median over rounds, the first round
 * is warm-up). Then where the time goes: one model run of k texts (k = 1, 8, 64), and the
 * lookup without the model (every probe's vector already embedded).
 *
 * `npm run bench -- semantic-throughput`; THROUGHPUT_ROUNDS (default 6: 5 measured),
 * THROUGHPUT_OPS (lookups per case per round, default 384).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../src/core/clock.js';
import { deriveKey } from '../src/core/key.js';
import type { Embedder } from '../src/tiers/semantic/embedders/embedder.js';
import { withEmbeddingCache } from '../src/tiers/semantic/embedders/embedding-cache.js';
import { type OnnxEmbedder, onnxEmbedder } from '../src/tiers/semantic/embedders/onnx.js';
import { ALL_GUARDS } from '../src/tiers/semantic/guards/guards.js';
import { SemanticTier } from '../src/tiers/semantic/index.js';
import { compareConcurrent, median, quoraQuestions, requireSemanticData } from './harness.js';

requireSemanticData('semantic-throughput');
const STORED = 5_000;
const ROUNDS = Number(process.env.THROUGHPUT_ROUNDS ?? 6);
const OPS = Number(process.env.THROUGHPUT_OPS ?? 384);
const IN_FLIGHT = [1, 8, 64];

const modelPath = execFileSync('bash', [join(import.meta.dirname, '..', 'scripts', 'models.sh')], {
  encoding: 'utf8',
})
  .trim()
  .split('\n')
  .at(-1)!;

const cases: Array<{ name: string; embedder: Embedder; model?: OnnxEmbedder }> = [];
for (const [name, batching] of [
  ['batching off (`batching: false`)', false],
  ['batching on (default: maxWaitMs 0)', undefined],
  ['batching on, maxWaitMs 2', { maxWaitMs: 2 }],
] as const) {
  const model = await onnxEmbedder({ modelPath, ...(batching === undefined ? {} : { batching }) });
  cases.push({ name, embedder: model, model });
}

// One tier; each case puts its embedder behind this one.
let current: Embedder = cases[1]!.embedder;
const switching: Embedder = {
  id: current.id,
  fits: (text) => current.fits!(text),
  embed: (texts) => current.embed(texts),
};
const tier = new SemanticTier({
  embedder: switching,
  threshold: 0.91,
  path: ':memory:',
  maxEntries: STORED,
  guards: ALL_GUARDS,
  candidates: 5,
  clock: new ManualClock(),
});

const questions = quoraQuestions();
const stored = questions.slice(0, STORED);
const probes = questions.slice(STORED, STORED + OPS);
const entry = { payload: '{"answer":"cached"}', size: 19, createdAt: 0, expiresAt: null, tags: [] };
const built = performance.now();
for (let i = 0; i < stored.length; i += 64)
  await Promise.all(stored.slice(i, i + 64).map((q) => tier.set(deriveKey('bench', 'llm', q), entry)));
console.log(
  `\nstore: ${STORED.toLocaleString('en-US')} Quora questions, built in ${((performance.now() - built) / 1000).toFixed(1)} s; probes: ${OPS} unseen questions (median ${median(probes.map((p) => p.length))} chars)`,
);
const keys = probes.map((q) => deriveKey('bench', 'llm', q));

console.log('\n### semantic lookups/s with onnx (all-MiniLM-L6-v2), by lookups in flight\n');
console.log(`${ROUNDS} rounds (the first is warm-up) of ${OPS} lookups per case; median over rounds.\n`);
console.log(
  '| in flight | case | lookups/s | p99 ms | vs batching off, same in flight | texts per model run |',
);
console.log('|---:|---|---:|---:|---:|---:|');
const perSecond = new Map<string, number>();
for (const inFlight of IN_FLIGHT) {
  const before = cases.map((c) => ({
    runs: c.model?.batcher?.runs ?? 0,
    texts: c.model?.batcher?.texts ?? 0,
  }));
  const results = await compareConcurrent(
    cases.map((c) => ({
      name: c.name,
      op: (i: number) => {
        current = c.embedder;
        return tier.get(keys[i % keys.length]!);
      },
    })),
    { inFlight, batches: Math.max(1, Math.round(OPS / inFlight)), rounds: ROUNDS },
  );
  const off = results[0]!.opsPerSecond;
  results.forEach((r, k) => {
    perSecond.set(`${inFlight}/${k}`, r.opsPerSecond);
    const batcher = cases[k]!.model?.batcher;
    const perRun = batcher
      ? ((batcher.texts - before[k]!.texts) / Math.max(1, batcher.runs - before[k]!.runs)).toFixed(1)
      : '1 (own runs)';
    console.log(
      `| ${inFlight} | ${r.name} | ${Math.round(r.opsPerSecond).toLocaleString('en-US')} | ${r.p99Ms.toFixed(1)} | ${(r.opsPerSecond / off).toFixed(2)}x | ${perRun} |`,
    );
  });
}
console.log('\n| case | 8 in flight ÷ 1 | 64 in flight ÷ 1 | 64 in flight ÷ batching off at 1 |');
console.log('|---|---:|---:|---:|');
cases.forEach((c, k) => {
  const one = perSecond.get(`1/${k}`)!;
  console.log(
    `| ${c.name} | ${(perSecond.get(`8/${k}`)! / one).toFixed(2)}x | ${(perSecond.get(`64/${k}`)! / one).toFixed(2)}x | ${(perSecond.get(`64/${k}`)! / perSecond.get('1/0')!).toFixed(2)}x |`,
  );
});

// Where the time goes.
console.log("\n### where a lookup's time goes\n");
console.log('| what | median ms per call | ms per text |');
console.log('|---|---:|---:|');
const direct = cases[0]!.embedder;
const pool = questions.slice(STORED + OPS, STORED + OPS + 64 * 15);
for (const k of [1, 8, 64]) {
  const times: number[] = [];
  for (let r = 0; r < 15; r++) {
    const t0 = performance.now();
    await direct.embed(pool.slice(r * k, r * k + k));
    times.push(performance.now() - t0);
  }
  const m = median(times);
  console.log(
    `| one model run of ${k} Quora question${k > 1 ? 's' : ''}, padded to the longest | ${m.toFixed(2)} | ${(m / k).toFixed(2)} |`,
  );
}
{
  // The same 64 at a time through the batcher: runs of similar length (batcher.ts plan).
  const batched = cases[1]!.model!;
  const times: number[] = [];
  for (let r = 0; r < 15; r++) {
    const t0 = performance.now();
    await Promise.all(pool.slice(r * 64, r * 64 + 64).map((q) => batched.embed([q])));
    times.push(performance.now() - t0);
  }
  const m = median(times);
  console.log(
    `| the same 64, one call each, through the batcher | ${m.toFixed(2)} | ${(m / 64).toFixed(2)} |`,
  );
}
// The lookup without the model: every probe's vector is already in an embedding cache.
const warm = withEmbeddingCache(cases[1]!.embedder, OPS * 2);
await warm.embed(probes);
current = warm;
const rest: number[] = [];
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  for (const key of keys) await tier.get(key);
  rest.push((performance.now() - t0) / keys.length);
}
console.log(
  `| a lookup with its vector already known (split, search, guards, read), one at a time | ${median(rest).toFixed(3)} | |`,
);

await tier.close();
for (const c of cases) await c.model?.close();
