/**
 * Semantic quality and speed, on the public data in ../shared/data/semantic (see its README):
 *
 *   gptcache   GPTCache's own mock set: store every `origin`, query with every `similar`;
 *              correct / wrong / miss per threshold, beside GPTCache's published table.
 *   qqp-pairs  Quora pairs (hard, same-topic negatives): precision / recall / F1 per threshold,
 *              with and without the precision guards, and what each guard costs in recall.
 *   meancache  the MeanCache validation split, same pair mode.
 *   qqp-cache  a cache simulation: store every text_a of a sample, query with its text_b;
 *              a hit on the pair's own text_a is correct when the pair is a duplicate.
 *   chat       GPTCache's mock set through the semantic tier itself, each question as it is and
 *              wrapped in a chat request (a long system prompt and a two-turn history, as LangChain's
 *              BaseCache sees it and as withCache sees it): the counts must match the unwrapped row.
 *   latency    search and full-lookup latency of the semantic tier at 10k and 100k entries.
 *
 * `npm run bench -- semantic` runs everything for both built-in embedders (the onnx model is
 * fetched by scripts/models.sh). SEMANTIC_EMBEDDERS=lexical|onnx picks one, SEMANTIC_SAMPLE=N
 * limits the pair sets (default: all pairs for lexical, 20,000 for onnx), SEMANTIC_LATENCY=0
 * skips the latency part (embedding 100k prompts with onnx takes minutes), SEMANTIC_QUALITY=0 runs
 * only the latency part.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { ManualClock } from '../src/core/clock.js';
import { deriveKey } from '../src/core/key.js';
import type { Embedder } from '../src/tiers/semantic/embedders/embedder.js';
import { DEFAULT_THRESHOLDS, lexicalEmbedder } from '../src/tiers/semantic/embedders/lexical.js';
import { onnxEmbedder } from '../src/tiers/semantic/embedders/onnx.js';
import { ALL_GUARDS, type GuardName, refusingGuard } from '../src/tiers/semantic/guards/guards.js';
import { SemanticTier } from '../src/tiers/semantic/index.js';
import { dot } from '../src/tiers/semantic/vectors/vector.js';
import { VectorIndex } from '../src/tiers/semantic/vectors/vector-index.js';
import {
  embedAll,
  gptcacheMockPairs,
  median,
  percentile,
  requireSemanticData,
  SEMANTIC_DATA,
  sample,
} from './harness.js';

requireSemanticData('semantic');
const DATA = SEMANTIC_DATA;
const THRESHOLDS = [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92, 0.93, 0.95];

interface Pair {
  a: string;
  b: string;
  duplicate: boolean;
}

function loadQqp(): Pair[] {
  const raw = JSON.parse(
    gunzipSync(readFileSync(join(DATA, 'qqp_full_pairs.json.gz'))).toString('utf8'),
  ) as Array<{
    text_a: string;
    text_b: string;
    label: number;
  }>;
  return raw.map((r) => ({ a: r.text_a, b: r.text_b, duplicate: r.label === 1 }));
}

function loadMeanCache(): Pair[] {
  const lines = readFileSync(join(DATA, 'meancache_val.csv'), 'utf8').split('\n').slice(1);
  const out: Pair[] = [];
  for (const line of lines) {
    const fields = parseCsvLine(line);
    if (fields.length === 3) out.push({ a: fields[0]!, b: fields[1]!, duplicate: fields[2] === '1' });
  }
  return out;
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field.replace(/\r$/, ''));
  return out;
}

const pct = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '-');

// ---------------------------------------------------------------------------------------------

async function gptcacheMock(name: string, embedder: Embedder): Promise<void> {
  const pairs = gptcacheMockPairs();
  const origins = await embedAll(
    embedder,
    pairs.map((p) => p.origin),
  );
  const queries = await embedAll(
    embedder,
    pairs.map((p) => p.similar),
  );
  const top = queries.map((q) => {
    const scored = origins.map((o, id) => ({ id, score: dot(q, o) }));
    return scored.sort((x, y) => y.score - x.score).slice(0, 5);
  });
  console.log(`\n#### gptcache mock data (999 pairs), ${name}\n`);
  console.log(
    '| threshold | correct | wrong | miss | of the wrong: an origin with the same text | correct (no guards) | wrong (no guards) |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  const sameText = (a: number, b: number) => pairs[a]!.origin === pairs[b]!.origin;
  for (const t of THRESHOLDS) {
    const counts = { correct: 0, wrong: 0, miss: 0, sameText: 0, correctRaw: 0, wrongRaw: 0 };
    top.forEach((candidates, qi) => {
      // As the tier does: the nearest entry above the threshold decides; a guard refusal is a miss.
      const nearest = candidates[0]!;
      const first =
        nearest.score >= t && !refusingGuard(pairs[qi]!.similar, pairs[nearest.id]!.origin)
          ? nearest
          : undefined;
      if (!first) counts.miss++;
      else if (first.id === qi) counts.correct++;
      else {
        counts.wrong++;
        if (sameText(first.id, qi)) counts.sameText++;
      }
      const raw = candidates[0]!;
      if (raw.score >= t) {
        if (raw.id === qi) counts.correctRaw++;
        else counts.wrongRaw++;
      }
    });
    console.log(
      `| ${t} | ${counts.correct} | ${counts.wrong} | ${counts.miss} | ${counts.sameText} | ${counts.correctRaw} | ${counts.wrongRaw} |`,
    );
  }
  console.log(
    '\nGPTCache published (ONNX ALBERT + FAISS): 0.95 -> 425 / 25 / 549; 0.9 -> 804 / 77 / 118; 0.8 -> 904 / 92 / 3.',
  );
}

/** A question as a chat application sends it: after a long system prompt and a two-turn history. */
const CHAT_SYSTEM =
  'You are the support assistant of Acme Cloud, a hosting company. Answer in at most three sentences, ' +
  'cite the documentation page you rely on, never promise refunds or credits yourself, and hand the ' +
  'customer over to a human agent when they mention legal action, data loss or a security incident.';
const CHAT_HISTORY: Array<[string, string]> = [
  ['human', 'Hi, I have a question about my account.'],
  ['ai', 'Of course, how can I help?'],
  ['human', 'It is about something I read in your docs.'],
  ['ai', 'Sure, go ahead and ask.'],
];
const CHAT_SHAPES: Record<string, (question: string) => string> = {
  'as asked': (q) => q,
  'chat, BaseCache prompt': (q) =>
    [
      `System: ${CHAT_SYSTEM}`,
      ...CHAT_HISTORY.map(([role, text]) => `${role === 'human' ? 'Human' : 'AI'}: ${text}`),
      `Human: ${q}`,
    ].join('\n'),
  'chat, withCache request': (q) =>
    JSON.stringify([
      { type: 'system', content: CHAT_SYSTEM },
      ...CHAT_HISTORY.map(([type, content]) => ({ type, content })),
      { type: 'human', content: q },
    ]),
};

/** GPTCache's mock set through the tier itself, in each request shape; the counts must agree. */
async function gptcacheChat(name: string, embedder: Embedder, threshold: number): Promise<void> {
  const pairs = gptcacheMockPairs();
  console.log(
    `\n#### gptcache mock data through the tier, as asked and chat-shaped, ${name} (threshold ${threshold})\n`,
  );
  console.log('| request shape | correct | wrong | miss | of the wrong: an origin with the same text |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [shape, wrap] of Object.entries(CHAT_SHAPES)) {
    const tier = new SemanticTier({
      embedder,
      threshold,
      path: ':memory:',
      maxEntries: 100_000,
      guards: ALL_GUARDS,
      candidates: 5,
      clock: new ManualClock(),
    });
    const hashes = new Map<string, number>();
    for (const [i, p] of pairs.entries()) {
      const key = deriveKey('bench', 'llm', wrap(p.origin));
      hashes.set(key.hash, i);
      await tier.set(key, { payload: '{}', size: 2, createdAt: 0, expiresAt: null, tags: [] });
    }
    const counts = { correct: 0, wrong: 0, miss: 0, sameText: 0 };
    for (const [i, p] of pairs.entries()) {
      const match = await tier.get(deriveKey('bench', 'llm', wrap(p.similar)));
      if (!match) counts.miss++;
      else if (hashes.get(match.hash) === i) counts.correct++;
      else {
        counts.wrong++;
        // The set stores some origins twice, under two pairs: byte-identical prompts share one
        // key, so a query of either pair gets the other pair's (identical) origin.
        if (pairs[hashes.get(match.hash)!]!.origin === p.origin) counts.sameText++;
      }
    }
    tier.close();
    console.log(`| ${shape} | ${counts.correct} | ${counts.wrong} | ${counts.miss} | ${counts.sameText} |`);
  }
}

interface PairScore {
  score: number;
  duplicate: boolean;
  guard: GuardName | undefined;
  guards: Set<GuardName>;
}

async function scorePairs(embedder: Embedder, pairs: Pair[]): Promise<PairScore[]> {
  const a = await embedAll(
    embedder,
    pairs.map((p) => p.a),
  );
  const b = await embedAll(
    embedder,
    pairs.map((p) => p.b),
  );
  return pairs.map((p, i) => {
    const guards = new Set<GuardName>();
    for (const g of ALL_GUARDS) if (refusingGuard(p.b, p.a, [g])) guards.add(g);
    return { score: dot(a[i]!, b[i]!), duplicate: p.duplicate, guard: refusingGuard(p.b, p.a), guards };
  });
}

function prf(scores: PairScore[], t: number, guarded: boolean): { p: number; r: number; f1: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const s of scores) {
    const predicted = s.score >= t && (!guarded || !s.guard);
    if (predicted && s.duplicate) tp++;
    else if (predicted) fp++;
    else if (s.duplicate) fn++;
  }
  const p = tp / (tp + fp);
  const r = tp / (tp + fn);
  return { p, r, f1: (2 * p * r) / (p + r) };
}

function pairTable(title: string, scores: PairScore[]): void {
  console.log(`\n#### ${title}\n`);
  console.log(
    '| threshold | precision | recall | F1 | precision (no guards) | recall (no guards) | F1 (no guards) |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of THRESHOLDS) {
    const g = prf(scores, t, true);
    const n = prf(scores, t, false);
    console.log(
      `| ${t} | ${pct(g.p)} | ${pct(g.r)} | ${pct(g.f1)} | ${pct(n.p)} | ${pct(n.r)} | ${pct(n.f1)} |`,
    );
  }
}

function guardCost(title: string, scores: PairScore[], t: number): void {
  const above = scores.filter((s) => s.score >= t);
  const dups = above.filter((s) => s.duplicate);
  const nondups = above.filter((s) => !s.duplicate);
  console.log(`\n#### what each guard does at threshold ${t}, ${title}\n`);
  console.log(
    `Of ${above.length} pairs above the threshold (${dups.length} duplicates, ${nondups.length} not):\n`,
  );
  console.log('| guard | duplicates refused (recall cost) | non-duplicates refused (wrong hits prevented) |');
  console.log('|---|---:|---:|');
  for (const g of ALL_GUARDS) {
    const lost = dups.filter((s) => s.guards.has(g)).length;
    const saved = nondups.filter((s) => s.guards.has(g)).length;
    console.log(
      `| ${g} | ${lost} (${pct(lost / dups.length)}) | ${saved} (${pct(saved / nondups.length)}) |`,
    );
  }
}

async function qqpCache(name: string, embedder: Embedder, pairs: Pair[], threshold: number): Promise<void> {
  const stored = [...new Set(pairs.map((p) => p.a))];
  const idOf = new Map(stored.map((t, i) => [t, i]));
  const vectors = await embedAll(embedder, stored);
  const index = new VectorIndex();
  const built = performance.now();
  vectors.forEach((v, i) => {
    index.add(i, v);
  });
  const buildMs = performance.now() - built;
  const queries = await embedAll(
    embedder,
    pairs.map((p) => p.b),
  );
  console.log(
    `\n#### QQP cache simulation, ${name}: ${stored.length} stored questions, ${pairs.length} queries\n`,
  );
  console.log(`(index built in ${(buildMs / 1000).toFixed(1)} s)\n`);
  console.log(
    '| threshold | duplicates answered correctly | wrong answers to duplicates | duplicates missed | non-duplicates answered (wrong) | precision of hits |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|');
  const tops = queries.map((q) => index.search(q, 5));
  for (const t of [threshold - 0.1, threshold - 0.05, threshold, threshold + 0.05, threshold + 0.1]) {
    let correct = 0;
    let wrongDup = 0;
    let missDup = 0;
    let wrongNon = 0;
    pairs.forEach((p, i) => {
      const nearest = tops[i]![0];
      const first =
        nearest && nearest.score >= t && !refusingGuard(p.b, stored[nearest.id]!) ? nearest : undefined;
      if (p.duplicate) {
        if (!first) missDup++;
        else if (first.id === idOf.get(p.a)) correct++;
        else wrongDup++;
      } else if (first) wrongNon++;
    });
    const hits = correct + wrongDup + wrongNon;
    console.log(
      `| ${t.toFixed(2)} | ${correct} | ${wrongDup} | ${missDup} | ${wrongNon} | ${pct(correct / hits)} |`,
    );
  }
}

async function latency(name: string, embedder: Embedder, texts: string[]): Promise<void> {
  console.log(`\n#### lookup latency, ${name}\n`);
  console.log(
    '| entries | build s | search p50 ms | search p99 ms | full lookup p50 ms (embed + search + guards + read) |',
  );
  console.log('|---:|---:|---:|---:|---:|');
  for (const n of [10_000, 100_000]) {
    if (texts.length < n + 1_000) continue;
    const tier = new SemanticTier({
      embedder,
      threshold: 0.8,
      path: ':memory:',
      maxEntries: n,
      guards: ALL_GUARDS,
      candidates: 5,
      clock: new ManualClock(),
    });
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const key = deriveKey('bench', 'llm', texts[i]!);
      await tier.set(key, { payload: '{}', size: 2, createdAt: 0, expiresAt: null, tags: [] });
    }
    const buildS = (performance.now() - started) / 1000;
    const index = (tier as unknown as { store: { partitions: Map<string, VectorIndex> } }).store.partitions
      .values()
      .next().value!;
    const probes = texts.slice(n, n + 1_000);
    const vectors = await embedAll(embedder, probes);
    const search: number[] = [];
    for (const v of vectors) {
      const t0 = performance.now();
      index.search(v, 5);
      search.push(performance.now() - t0);
    }
    const full: number[] = [];
    for (const p of probes) {
      const t0 = performance.now();
      await tier.get(deriveKey('bench', 'llm', `${p} `));
      full.push(performance.now() - t0);
    }
    console.log(
      `| ${n.toLocaleString('en-US')} | ${buildS.toFixed(1)} | ${median(search).toFixed(3)} | ${percentile(search, 0.99).toFixed(3)} | ${median(full).toFixed(3)} |`,
    );
    tier.close();
  }
}

// ---------------------------------------------------------------------------------------------

const modelPath = execFileSync('bash', [join(import.meta.dirname, '..', 'scripts', 'models.sh')], {
  encoding: 'utf8',
})
  .trim()
  .split('\n')
  .at(-1)!;
const only = process.env.SEMANTIC_EMBEDDERS?.split(',');
const embedders: Array<{ name: string; embedder: Embedder; threshold: number; sample: number }> = [
  {
    name: 'lexical',
    embedder: lexicalEmbedder(),
    threshold: DEFAULT_THRESHOLDS.lexical,
    sample: Number(process.env.SEMANTIC_SAMPLE ?? 1e9),
  },
  {
    name: 'onnx',
    embedder: await onnxEmbedder({ modelPath }),
    threshold: DEFAULT_THRESHOLDS.onnx,
    // ~1 ms per text on one core: the Quora sets are sampled for this embedder.
    sample: Number(process.env.SEMANTIC_SAMPLE ?? 20_000),
  },
].filter((e) => !only || only.includes(e.name));

const qqp = loadQqp();
const meancache = loadMeanCache();
for (const { name, embedder, threshold, sample: n } of embedders) {
  const started = performance.now();
  console.log(`\n### semantic quality: ${name} (default threshold ${threshold})`);
  if (process.env.SEMANTIC_QUALITY !== '0') {
    await gptcacheMock(name, embedder);
    await gptcacheChat(name, embedder, threshold);
    const qqpScores = await scorePairs(embedder, sample(qqp, n));
    pairTable(`QQP pair mode (${Math.min(n, qqp.length)} pairs), ${name}`, qqpScores);
    guardCost(`QQP, ${name}`, qqpScores, threshold);
    pairTable(
      `MeanCache validation pairs (${Math.min(n, meancache.length)}), ${name}`,
      await scorePairs(embedder, sample(meancache, n)),
    );
    await qqpCache(name, embedder, sample(qqp, Math.min(n, 10_000)), threshold);
  }
  const texts = [...new Set(qqp.flatMap((p) => [p.a, p.b]))];
  if (process.env.SEMANTIC_LATENCY !== '0') await latency(name, embedder, texts);
  console.log(`\n(${name}: ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}
