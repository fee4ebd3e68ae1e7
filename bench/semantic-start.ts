/**
 * Start-up of a semantic tier holding 100,000 entries (onnx, MiniLM), and its lookups once up.
 *
 * The store is built once from Quora questions (../shared/data/semantic) and kept under
 * .strata-bench/ (embedding 100k questions takes minutes; the vectors are computed in batches,
 * then stored through the tier, which builds its HNSW graph and saves it at close). Then, each in
 * a fresh process so nothing is warm:
 *   - `createCache` on the store with its saved graph (what every start does now),
 *   - `createCache` on a copy without the saved graph (what every start did before: a rebuild),
 * each followed by its first lookup and the p50/p99 of 300 lookups of unseen questions
 * (embedding + search + guards + read).
 *
 * `npm run bench -- semantic-start`; STRATA_BENCH_REBUILD=0 skips the (minutes-long) rebuild row.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { ManualClock } from '../src/core/clock.js';
import { encodeEntry, newEntry } from '../src/core/entry.js';
import { deriveKey } from '../src/core/key.js';
import type { Embedder } from '../src/tiers/semantic/embedders/embedder.js';
import { onnxEmbedder } from '../src/tiers/semantic/embedders/onnx.js';
import { ALL_GUARDS } from '../src/tiers/semantic/guards/guards.js';
import { SemanticTier } from '../src/tiers/semantic/index.js';
import type { Vector } from '../src/tiers/semantic/vectors/vector.js';
import { embedAll, measureSemanticStart, quoraQuestions, requireSemanticData } from './harness.js';

requireSemanticData('semantic-start');
const N = 100_000;
const ROOT = join(import.meta.dirname, '..');
const dir = join(ROOT, '.strata-bench');
const store = join(dir, `semantic-${N}.db`);
const modelPath = execFileSync('bash', [join(ROOT, 'scripts', 'models.sh')], { encoding: 'utf8' })
  .trim()
  .split('\n')
  .at(-1)!;

const child = process.argv[2];
if (child === 'start') {
  await measureSemanticStart(
    { type: 'semantic', embeddings: 'onnx', path: process.argv[3]!, maxEntries: N, purgeIntervalSeconds: 0 },
    N,
  );
  process.exit(0);
}

const questions = quoraQuestions();
if (questions.length < N + 300) throw new Error(`only ${questions.length} distinct questions`);

if (!existsSync(store)) {
  mkdirSync(dir, { recursive: true });
  // Built under another name and renamed when complete: a run cut short leaves no store that looks whole.
  const building = `${store}.building`;
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${building}${suffix}`, { force: true });
  const onnx = await onnxEmbedder({ modelPath });
  const texts = questions.slice(0, N);
  let t0 = performance.now();
  const vectors = await embedAll(onnx, texts);
  console.log(
    `embedded ${N.toLocaleString('en-US')} questions in batches: ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  const byText = new Map<string, Vector>(texts.map((t, i) => [t, vectors[i]!]));
  // The tier embeds each question it stores; here it is handed the vector computed above.
  const precomputed: Embedder = {
    id: onnx.id,
    // A question the tier rewrote before embedding (invisible characters taken out) is embedded anew.
    embed: async (t) => Promise.all(t.map(async (x) => byText.get(x) ?? (await onnx.embed([x]))[0]!)),
    fits: onnx.fits,
  };
  const tier = new SemanticTier({
    embedder: precomputed,
    threshold: 0.91,
    path: building,
    maxEntries: N,
    guards: ALL_GUARDS,
    candidates: 5,
    clock: new ManualClock(),
  });
  t0 = performance.now();
  for (const text of texts) {
    const key = deriveKey('bench', 'model:"m"', text);
    await tier.set(
      key,
      encodeEntry(newEntry(key, [{ text: `answer to: ${text}` }], { now: 0, storePrompt: true })),
    );
  }
  console.log(
    `stored ${N.toLocaleString('en-US')} entries (graph built as they came): ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  await tier.close();
  renameSync(building, store);
}

const withoutGraph = join(dir, `semantic-${N}-nograph.db`);
rmSync(withoutGraph, { force: true });
copyFileSync(store, withoutGraph);
const db = new Database(withoutGraph);
db.exec('DELETE FROM semantic_graphs');
db.close();

console.log(
  `\n### semantic tier start-up, ${N.toLocaleString('en-US')} entries (onnx MiniLM, HNSW), each start in a fresh process\n`,
);
console.log('| start | createCache s | first lookup ms | lookup p50 ms | lookup p99 ms |');
console.log('|---|---:|---:|---:|---:|');
const rows: Array<[string, string]> = [['saved graph restored (now)', store]];
if (process.env.STRATA_BENCH_REBUILD !== '0')
  rows.push(['graph rebuilt from the entries (before)', withoutGraph]);
for (const [name, path] of rows) {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const out = execFileSync(process.execPath, ['--import', tsx, import.meta.filename, 'start', path], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  console.log(`| ${name} | ${out.trim()} |`);
}
rmSync(withoutGraph, { force: true });
