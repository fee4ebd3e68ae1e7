/**
 * Semantic hits under an error bound (issue 30): request streams from labelled paraphrase data
 * replayed through the real SemanticTier with the real onnx embedder (all-MiniLM-L6-v2); an
 * oracle that knows every question's cluster decides whether a hit was right.
 *
 *   qqp       Quora duplicate pairs joined into clusters, with same-topic non-duplicates
 *   gptcache  GPTCache's mock set, a cluster per origin/similar pair
 *
 * Each stream runs through a grid of static thresholds and through the tier's `maxErrorRate` (δ)
 * for δ = 1%, 2%, 5%, beside the static threshold that met the same error in hindsight.
 * Deterministic: seeded streams, seeded fake model, seeded exploration; a ManualClock.
 *
 * Environment: SEMANTIC_BOUND_STREAMS=qqp,gptcache (default; also qqp-audited, gptcache-audited:
 * see withoutUnlabelledNeighbours); SEMANTIC_BOUND_SEED (1);
 * SEMANTIC_BOUND_ZIPF (1.0, the exponent over cluster ranks); SEMANTIC_BOUND_QQP_PAIRS (2,500
 * sampled pairs); SEMANTIC_BOUND_QQP_REQUESTS (25,000); SEMANTIC_BOUND_GPTCACHE_REQUESTS (10,000);
 * SEMANTIC_BOUND_DELTAS (0.01,0.02,0.05,0.2); SEMANTIC_BOUND_STATIC=0 skips the static grid (the
 * hindsight columns then say none); SEMANTIC_DATA, the data folder (default ../shared/data/semantic).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { withEmbeddingCache } from '../src/tiers/semantic/embedders/embedding-cache.js';
import { onnxEmbedder } from '../src/tiers/semantic/embedders/onnx.js';
import { embedAll, requireSemanticData } from './harness.js';
import { boundConfig } from './semantic-bound/bound.js';
import { replay } from './semantic-bound/replay.js';
import {
  type BoundRun,
  halfLine,
  percent,
  printBound,
  printHindsight,
  printJudge,
  printLabelBins,
  printStatic,
  type StaticRun,
  streamLine,
} from './semantic-bound/report.js';
import {
  gptcacheStream,
  qqpStream,
  type Stream,
  withoutUnlabelledNeighbours,
} from './semantic-bound/streams.js';

requireSemanticData('semantic-bound');

const env = (name: string, fallback: number) => Number(process.env[`SEMANTIC_BOUND_${name}`] ?? fallback);
const seed = env('SEED', 1);
const zipf = env('ZIPF', 1.0);
const only = process.env.SEMANTIC_BOUND_STREAMS?.split(',');
/** 0.70, 0.71, ... 0.97. */
const GRID = Array.from({ length: 28 }, (_, i) => Math.round(70 + i) / 100);
/**
 * The bounds of issue 30, and 20%: the lowest error any static threshold reaches on these data
 * is 13-18% (see bench/README.md), so only a bound that loose shows what the learner serves.
 */
const DELTAS = (process.env.SEMANTIC_BOUND_DELTAS ?? '0.01,0.02,0.05,0.2').split(',').map(Number);
/** The bound runs' `threshold`: nothing is served or labelled below it. */
const FLOOR = 0.7;

const modelPath = execFileSync('bash', [join(import.meta.dirname, '..', 'scripts', 'models.sh')], {
  encoding: 'utf8',
})
  .trim()
  .split('\n')
  .at(-1)!;
// Every question and answer text is embedded once, however many replays see it.
const embedder = withEmbeddingCache(await onnxEmbedder({ modelPath }), 10_000_000);

const builders: Record<string, () => Stream> = {
  qqp: () =>
    qqpStream({
      seed,
      zipf,
      pairs: env('QQP_PAIRS', 2_500),
      maxMembers: 20,
      requests: env('QQP_REQUESTS', 25_000),
    }),
  gptcache: () => gptcacheStream({ seed, zipf, requests: env('GPTCACHE_REQUESTS', 10_000) }),
};
/** Opt-in (SEMANTIC_BOUND_STREAMS=qqp-audited): QQP without the clusters its labels cannot judge. */
const AUDIT_SIMILARITY = 0.9;

async function audited(stream: Stream): Promise<Stream> {
  const vectors = await embedAll(embedder, stream.asked);
  return withoutUnlabelledNeighbours(
    stream,
    new Map(stream.asked.map((q, i) => [q, vectors[i]!])),
    AUDIT_SIMILARITY,
  );
}

const benchStarted = performance.now();
const names = only ?? ['qqp', 'gptcache'];
for (const name of names) {
  const build = builders[name.replace(/-audited$/, '')];
  if (!build) throw new Error(`SEMANTIC_BOUND_STREAMS: unknown stream ${name}`);
  const embedStarted = performance.now();
  let stream = build();
  await embedAll(embedder, stream.asked);
  if (name.endsWith('-audited')) stream = await audited(stream);
  console.log(`\n### semantic-bound: ${stream.description}\n`);
  console.log(
    `${stream.asked.length.toLocaleString('en-US')} distinct questions asked, embedded in ${((performance.now() - embedStarted) / 1000).toFixed(0)} s.`,
  );
  const statics: StaticRun[] = [];
  if (process.env.SEMANTIC_BOUND_STATIC !== '0') {
    for (const threshold of GRID)
      statics.push({ threshold, result: await replay(stream, embedder, threshold, seed) });
    console.log(`${streamLine(statics[0]!.result)}.\n`);
    console.log(`#### static thresholds (${stream.name})\n`);
    printStatic(statics);
  }
  const bounds: BoundRun[] = [];
  for (const delta of DELTAS) {
    const { configure, tally } = boundConfig(delta, embedder, seed);
    bounds.push({ delta, result: await replay(stream, embedder, FLOOR, seed, configure), judge: tally });
  }
  if (statics.length === 0) console.log(`${streamLine(bounds[0]!.result)}.`);
  console.log(
    `\n#### maxErrorRate (${stream.name}): floor ${FLOOR}, explorationBudget 0.05 (default), default judge\n`,
  );
  printBound(bounds);
  console.log(`\n#### against the hindsight-best static threshold (${stream.name})\n`);
  printHindsight(bounds, statics);
  console.log(`\n#### the default judge against the oracle (${stream.name})\n`);
  printJudge(bounds);
  // The first run serves least, so labels every miss near an entry; the last serves most.
  for (const run of new Set([bounds[0]!, bounds.at(-1)!])) {
    console.log(`\n#### labels by question similarity (${stream.name}, δ ${percent(run.delta, 0)} run)\n`);
    printLabelBins(run);
  }
  console.log(`\n#### learning curve (${stream.name}): first half of the stream, then second half\n`);
  for (const b of bounds)
    console.log(
      `- δ ${percent(b.delta, 0)}: ${halfLine(b.result.halves[0])}; then ${halfLine(b.result.halves[1])}`,
    );
}
console.log(`\n(semantic-bound: ${((performance.now() - benchStarted) / 1000).toFixed(0)} s)`);
