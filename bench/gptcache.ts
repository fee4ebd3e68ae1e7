/**
 * Strata's semantic tier vs a GPTCache 0.1.44 server, on GPTCache's own mock set
 * (../shared/data/semantic/gptcache_mock_data.json, 999 pairs): every `origin` is cached with
 * its own answer, then every `similar` is asked. A hit with the pair's answer is correct, a hit
 * with another pair's answer is wrong, no hit is a miss.
 *
 * Both sides use the same embedding model (all-MiniLM-L6-v2, int8 ONNX, from scripts/models.sh)
 * and the same threshold, cosine >= 0.91 (Strata's onnx default; the GPTCache server started by
 * scripts/services.sh is set to its equivalent). Both are driven through StrataCache, lookups
 * interleaved one by one in one process, client and server pinned to one core; the raw
 * `POST /get` latency of the GPTCache server is measured alongside.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCache, type StrataCache } from '../src/index.js';
import { percentile, pin, requireSemanticData, SEMANTIC_DATA } from './harness.js';
import { useServices } from './services.js';

requireSemanticData('gptcache');
const DATA = SEMANTIC_DATA;
const pairs = JSON.parse(readFileSync(join(DATA, 'gptcache_mock_data.json'), 'utf8')) as Array<{
  origin: string;
  similar: string;
}>;
const LLM = 'model:"bench"';

// A fresh server: GPTCache cannot be emptied, and its data dir is wiped on start.
const services = useServices(['gptcache'], { fresh: ['gptcache'] });
const { env } = services;
const url = env.STRATA_TEST_GPTCACHE_SEMANTIC_URL!;
const serverPid = services.pid('gptcache', 'semantic');

// Strata at the same threshold with and without its guards, and at lower thresholds, to compare
// at equal wrong counts too. No coalescing: a lookup must not wait for another's lease (some
// `similar` texts repeat).
const strataSetups = [
  { name: 'Strata semantic tier (onnx, cos >= 0.91, guards on: the default)', threshold: 0.91 },
  { name: 'Strata semantic tier (onnx, cos >= 0.91, guards off)', threshold: 0.91, guards: [] },
  { name: 'Strata semantic tier (onnx, cos >= 0.89, guards on)', threshold: 0.89 },
  { name: 'Strata semantic tier (onnx, cos >= 0.87, guards on)', threshold: 0.87 },
];
const stratas = await Promise.all(
  strataSetups.map(({ threshold, guards }) =>
    createCache({
      coalesceWaitMs: 0,
      tiers: [
        {
          type: 'semantic',
          embeddings: 'onnx',
          path: ':memory:',
          threshold,
          ...(guards ? { guards } : {}),
        },
      ],
    }),
  ),
);
const gptcache = await createCache({
  coalesceWaitMs: 0,
  tiers: [{ type: 'gptcache', url, mode: 'semantic', timeoutMs: 30_000 }],
});

pin(process.pid, 0);
pin(serverPid, 0);
for (const [i, p] of pairs.entries()) {
  for (const strata of stratas) await strata.update(p.origin, LLM, [{ text: `answer ${i}` }]);
  await gptcache.update(p.origin, LLM, [{ text: `answer ${i}` }]);
}

interface Tally {
  name: string;
  correct: number;
  wrong: number;
  miss: number;
  ms: number[];
}
const tally = (name: string): Tally => ({ name, correct: 0, wrong: 0, miss: 0, ms: [] });
const caches = [...stratas, gptcache];
const results = [
  ...strataSetups.map((s) => tally(s.name)),
  tally('GPTCache server (same model, cos >= 0.91) via the gptcache tier'),
];
const rawMs: number[] = [];

async function ask(cache: StrataCache, t: Tally, i: number): Promise<void> {
  const start = performance.now();
  const hit = await cache.lookup(pairs[i]!.similar, LLM);
  t.ms.push(performance.now() - start);
  const answered = hit ? pairs[Number(hit[0]?.text.slice('answer '.length))] : undefined;
  if (!hit) t.miss++;
  // 35 origins occur twice: the later pair's answer replaced the earlier one's, and is right for both.
  else if (answered?.origin === pairs[i]!.origin) t.correct++;
  else t.wrong++;
}

async function rawGet(i: number): Promise<void> {
  const start = performance.now();
  const res = await fetch(`${url}/get`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: pairs[i]!.similar }),
  });
  await res.json();
  rawMs.push(performance.now() - start);
}

for (let i = 0; i < pairs.length; i++) {
  // Rotating order, so neither side always runs first.
  const order = [...caches.map((c, k) => () => ask(c, results[k]!, i)), () => rawGet(i)];
  for (let k = 0; k < order.length; k++) await order[(i + k) % order.length]!();
}

console.log(
  `\n### gptcache: Strata's semantic tier vs a GPTCache 0.1.44 server, GPTCache's mock set (${pairs.length} pairs)\n`,
);
console.log('| implementation | correct | wrong | miss | lookup p50 ms | lookup p99 ms |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.name} | ${r.correct} | ${r.wrong} | ${r.miss} | ${percentile(r.ms, 0.5).toFixed(2)} | ${percentile(r.ms, 0.99).toFixed(2)} |`,
  );
}
console.log(
  `| GPTCache server, raw \`POST /get\` (latency only) | | | | ${percentile(rawMs, 0.5).toFixed(2)} | ${percentile(rawMs, 0.99).toFixed(2)} |`,
);

for (const c of caches) await c.close();
services.stop();
