/**
 * Embedders side by side, on the public data in ../shared/data/semantic (see its README):
 *
 *   gptcache  GPTCache's mock set, exactly as bench/semantic.ts runs it: store every `origin`,
 *             query with every `similar`; the nearest origin above the threshold answers unless a
 *             precision guard refuses it (then a miss). Correct / wrong / miss per threshold, and
 *             the most correct answers any threshold gets with at most 25 wrong.
 *   qqp       a deterministic sample of Quora pairs: precision / recall / F1 per threshold (guards
 *             on), and the best F1 over all thresholds.
 *   latency   p50 / p99 time to embed one query (one text per call, as a lookup does).
 *   verifier  all-MiniLM-L6-v2 verified by multilingual-e5-small (config `verifier`), when both run.
 *
 * `npm run bench -- embedders`. EMBEDDERS=lexical,minilm,e5 picks some, QQP_SAMPLE=N sizes the
 * Quora sample (default 5,000 pairs). Models are fetched by scripts/models.sh.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import type { Embedder } from '../src/tiers/semantic/embedders/embedder.js';
import { lexicalEmbedder } from '../src/tiers/semantic/embedders/lexical.js';
import { onnxEmbedder } from '../src/tiers/semantic/embedders/onnx.js';
import { refusingGuard } from '../src/tiers/semantic/guards/guards.js';
import { dot } from '../src/tiers/semantic/vectors/vector.js';
import {
  embedAll,
  gptcacheMockPairs,
  median,
  percentile,
  requireSemanticData,
  SEMANTIC_DATA,
  sample,
} from './harness.js';

requireSemanticData('embedders');
const DATA = SEMANTIC_DATA;
const GRID = Array.from({ length: 201 }, (_, i) => Math.round((0.5 + i * 0.0025) * 10_000) / 10_000);
const SHOWN = [0.7, 0.75, 0.8, 0.82, 0.84, 0.86, 0.88, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96];

function model(name: string): string {
  return execFileSync('bash', [join(import.meta.dirname, '..', 'scripts', 'models.sh'), name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .at(-1)!;
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '-');

interface Counts {
  correct: number;
  wrong: number;
  miss: number;
  /**
   * Of `correct`: answers from another pair whose origin is the very same text (the set has 35
   * origins twice, with different ids). An exact cache would give the same answer; counting it
   * wrong would charge the embedder for the data. `wrong + sameText` is the strict count.
   */
  sameText: number;
}

interface Nearest {
  id: number;
  score: number;
  refused: boolean;
}

interface MockRun {
  nearest: Nearest[];
  /** Cosine of each asked question with its nearest origin under another embedder (the verifier's view). */
  scoreWith(other: MockRun): number[];
  count(t: number, verified?: (qi: number) => boolean): Counts;
}

async function gptcache(embedder: Embedder): Promise<MockRun> {
  const pairs = gptcacheMockPairs();
  const origins = await embedAll(
    embedder,
    pairs.map((p) => p.origin),
  );
  const queries = await embedAll(
    embedder,
    pairs.map((p) => p.similar),
  );
  const nearest = queries.map((q, qi) => {
    let id = -1;
    let score = -Infinity;
    origins.forEach((o, oi) => {
      const s = dot(q, o);
      if (s > score) {
        score = s;
        id = oi;
      }
    });
    return { id, score, refused: refusingGuard(pairs[qi]!.similar, pairs[id]!.origin) !== undefined };
  });
  const run: MockRun & { origins: typeof origins; queries: typeof queries } = {
    nearest,
    origins,
    queries,
    scoreWith: (other) =>
      nearest.map((n, qi) => {
        const o = other as typeof run;
        return dot(o.queries[qi]!, o.origins[n.id]!);
      }),
    count(t, verified) {
      const c = { correct: 0, wrong: 0, miss: 0, sameText: 0 };
      nearest.forEach((n, qi) => {
        if (n.score < t || n.refused || (verified && !verified(qi))) c.miss++;
        else if (n.id === qi) c.correct++;
        else if (pairs[n.id]!.origin === pairs[qi]!.origin) {
          c.correct++;
          c.sameText++;
        } else c.wrong++;
      });
      return c;
    },
  };
  return run;
}

interface Prf {
  p: number;
  r: number;
  f1: number;
}

type QqpRun = ((t: number, verified?: (i: number) => boolean) => Prf) & { scores: number[] };

async function qqp(embedder: Embedder, n: number): Promise<QqpRun> {
  const raw = JSON.parse(
    gunzipSync(readFileSync(join(DATA, 'qqp_full_pairs.json.gz'))).toString('utf8'),
  ) as Array<{ text_a: string; text_b: string; label: number }>;
  const pairs = sample(raw, n);
  const a = await embedAll(
    embedder,
    pairs.map((p) => p.text_a),
  );
  const b = await embedAll(
    embedder,
    pairs.map((p) => p.text_b),
  );
  const scored = pairs.map((p, i) => ({
    score: dot(a[i]!, b[i]!),
    duplicate: p.label === 1,
    refused: refusingGuard(p.text_b, p.text_a) !== undefined,
  }));
  const at = (t: number, verified?: (i: number) => boolean) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const [i, s] of scored.entries()) {
      const predicted = s.score >= t && !s.refused && (!verified || verified(i));
      if (predicted && s.duplicate) tp++;
      else if (predicted) fp++;
      else if (s.duplicate) fn++;
    }
    const p = tp / (tp + fp);
    const r = tp / (tp + fn);
    return { p, r, f1: (2 * p * r) / (p + r) };
  };
  return Object.assign(at, { scores: scored.map((s) => s.score) });
}

async function latency(embedder: Embedder, texts: string[]): Promise<{ p50: number; p99: number }> {
  for (const t of texts.slice(0, 10)) await embedder.embed([t]);
  const ms: number[] = [];
  for (const t of texts) {
    const t0 = performance.now();
    await embedder.embed([t]);
    ms.push(performance.now() - t0);
  }
  return { p50: median(ms), p99: percentile(ms, 0.99) };
}

// ---------------------------------------------------------------------------------------------

const only = process.env.EMBEDDERS?.split(',');
const qqpSample = Number(process.env.QQP_SAMPLE ?? 5_000);
const candidates: Array<{ name: string; make: () => Promise<Embedder> }> = [
  { name: 'lexical', make: async () => lexicalEmbedder() },
  { name: 'minilm', make: () => onnxEmbedder({ modelPath: model('all-minilm-l6-v2') }) },
  { name: 'e5', make: () => onnxEmbedder({ modelPath: model('multilingual-e5-small') }) },
];
const probes = (
  JSON.parse(readFileSync(join(DATA, 'gptcache_mock_data.json'), 'utf8')) as Array<{ similar: string }>
)
  .slice(0, 300)
  .map((p) => p.similar);

const results: Array<{
  name: string;
  id: string;
  gpt: (t: number) => Counts;
  pairs: (t: number) => Prf;
  mock: MockRun;
  qqp: QqpRun;
  lat: { p50: number; p99: number };
  seconds: number;
}> = [];
for (const { name, make } of candidates.filter((c) => !only || only.includes(c.name))) {
  const started = performance.now();
  const embedder = await make();
  const lat = await latency(embedder, probes);
  const mock = await gptcache(embedder);
  const pairs = await qqp(embedder, qqpSample);
  results.push({
    name,
    id: embedder.id,
    gpt: (t) => mock.count(t),
    pairs: (t) => pairs(t),
    mock,
    qqp: pairs,
    lat,
    seconds: (performance.now() - started) / 1000,
  });
}

// The verifier stage (config `verifier: { threshold }`): all-MiniLM-L6-v2 picks the nearest
// origin, multilingual-e5-small must score the same pair at VERIFIED or above.
const VERIFIED = 0.97;
const minilm = results.find((r) => r.name === 'minilm');
const e5 = results.find((r) => r.name === 'e5');
if (minilm && e5) {
  const second = minilm.mock.scoreWith(e5.mock);
  const qqpSecond = e5.qqp.scores;
  results.push({
    name: `minilm + e5 verifier >= ${VERIFIED}`,
    id: `${minilm.id} then ${e5.id}`,
    gpt: (t) => minilm.mock.count(t, (qi) => second[qi]! >= VERIFIED),
    pairs: (t) => minilm.qqp(t, (i) => qqpSecond[i]! >= VERIFIED),
    mock: minilm.mock,
    qqp: minilm.qqp,
    lat: { p50: minilm.lat.p50 + 2 * e5.lat.p50, p99: minilm.lat.p99 + 2 * e5.lat.p99 },
    seconds: minilm.seconds + e5.seconds,
  });
}

console.log('\n### embedders side by side\n');
console.log(results.map((r) => `- ${r.name}: \`${r.id}\` (${r.seconds.toFixed(0)} s)`).join('\n'));

console.log(
  '\n#### GPTCache mock data (999 pairs), guards on: correct (of which same origin text) / wrong / miss\n',
);
console.log(`| threshold | ${results.map((r) => r.name).join(' | ')} |`);
console.log(`|---:|${results.map(() => '---:').join('|')}|`);
for (const t of SHOWN) {
  const cells = results.map((r) => {
    const c = r.gpt(t);
    return `${c.correct} (${c.sameText}) / ${c.wrong} / ${c.miss}`;
  });
  console.log(`| ${t} | ${cells.join(' | ')} |`);
}

console.log(
  '\n#### the best threshold with at most 25 wrong (GPTCache mock data), and QQP at that threshold\n',
);
console.log(
  `| embedder | threshold | correct | wrong | miss | strict: correct / wrong (threshold) | QQP precision | QQP recall | QQP F1 | best QQP F1 (threshold) | embed p50 ms | embed p99 ms |`,
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  let best: { t: number; c: Counts } | undefined;
  for (const t of GRID) {
    const c = r.gpt(t);
    if (c.wrong <= 25 && (!best || c.correct > best.c.correct)) best = { t, c };
  }
  // Strict: an answer from a same-text origin counts as wrong.
  let strict: { t: number; correct: number; wrong: number } | undefined;
  for (const t of GRID) {
    const c = r.gpt(t);
    const s = { t, correct: c.correct - c.sameText, wrong: c.wrong + c.sameText };
    if (s.wrong <= 25 && (!strict || s.correct > strict.correct)) strict = s;
  }
  let bestF1 = { t: 0, f1: 0 };
  for (const t of GRID) {
    const f1 = r.pairs(t).f1;
    if (f1 > bestF1.f1) bestF1 = { t, f1 };
  }
  const q = best ? r.pairs(best.t) : { p: NaN, r: NaN, f1: NaN };
  console.log(
    `| ${r.name} | ${best?.t ?? '-'} | ${best?.c.correct ?? '-'} | ${best?.c.wrong ?? '-'} | ${best?.c.miss ?? '-'} | ${strict ? `${strict.correct} / ${strict.wrong} (${strict.t})` : '-'} | ${f3(q.p)} | ${f3(q.r)} | ${f3(q.f1)} | ${f3(bestF1.f1)} (${bestF1.t}) | ${r.lat.p50.toFixed(2)} | ${r.lat.p99.toFixed(2)} |`,
  );
}

console.log(`\n#### QQP pair mode (${qqpSample} pairs), guards on: precision / recall / F1\n`);
console.log(`| threshold | ${results.map((r) => r.name).join(' | ')} |`);
console.log(`|---:|${results.map(() => '---:').join('|')}|`);
for (const t of SHOWN) {
  const cells = results.map((r) => {
    const x = r.pairs(t);
    return `${f3(x.p)} / ${f3(x.r)} / ${f3(x.f1)}`;
  });
  console.log(`| ${t} | ${cells.join(' | ')} |`);
}
