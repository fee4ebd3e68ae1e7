/**
 * `strata demo`: drives a LangChain chat model through the configured cache over the bundled
 * workload and shows what the cache saved. The model is SimulatedChatModel (deterministic
 * answers, real waiting), standing in for a paid LLM.
 *
 * A request counts as served by the cache when LangChain reports zero tokens for it: LangChain
 * itself zeroes usage_metadata on every cache hit, and the simulated model never answers with
 * zero tokens.
 *
 * LangChain is loaded only here, when the demo runs: every other command works without it.
 */
import { performance } from 'node:perf_hooks';
import { DEMO_PROMPTS, demoWorkload } from '../../demo/workload.js';
import { type Command, shown, stringFlag, table } from '../context.js';
import { createProgress } from '../progress.js';

export const demo: Command = async ({ flags, io, open }) => {
  const requests = intFlag(flags, 'requests', 600);
  const concurrency = intFlag(flags, 'concurrency', 8);
  const [minMs, maxMs] = (stringFlag(flags, 'latency') ?? '150-600').split('-').map(Number) as [
    number,
    number,
  ];
  if (!(requests > 0 && concurrency > 0 && minMs >= 0 && maxMs >= minMs)) {
    io.err('strata demo: --requests and --concurrency must be positive, --latency MIN-MAX in ms');
    return 2;
  }
  let langchain: [
    typeof import('../../langchain/create.js'),
    typeof import('../../langchain/simulated-model.js'),
  ];
  try {
    langchain = await Promise.all([
      import('../../langchain/create.js'),
      import('../../langchain/simulated-model.js'),
    ]);
  } catch (error) {
    // The demo drives a LangChain model; @langchain/core is an optional peer the gateway does without.
    if (!String(error).includes("'@langchain/core'")) throw error;
    io.err(
      'strata demo: the demo runs a LangChain model and needs @langchain/core: npm install @langchain/core',
    );
    return 1;
  }
  const [{ createCache }, { SimulatedChatModel }] = langchain;
  const opened = await open({ creates: true });
  const root = await createCache(opened.strata);
  const cache = root.withNamespace(stringFlag(flags, 'namespace') ? opened.namespace : 'demo');
  try {
    if (flags.fresh) await cache.clear();
    const before = await cache.stats();
    const stored = before.tiers.map((t) => `${t.name} ${t.store?.entries ?? '?'}`).join(', ');
    io.out(
      `Strata demo: ${requests} requests over ${DEMO_PROMPTS.length} distinct questions, ${concurrency} at a time`,
    );
    io.out(`model: SimulatedChatModel, ${minMs}-${maxMs} ms per call; config: ${shown(opened.source)}`);
    io.out(`tiers: ${shown(opened.strata.tierNames.join(' -> '))} (entries at start: ${stored})`);

    const model = new SimulatedChatModel({ latencyMs: [minMs, maxMs], cache, seed: 7 });
    const workload = demoWorkload(requests);
    const hitLatency: number[] = [];
    const missLatency: number[] = [];
    const counter = createProgress(io, { label: 'requests' });
    let next = 0;
    let finished = 0;
    const wallStart = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < workload.length) {
          const prompt = workload[next++]!;
          const start = performance.now();
          const answer = await model.invoke(prompt);
          const ms = performance.now() - start;
          (answer.usage_metadata?.total_tokens === 0 ? hitLatency : missLatency).push(ms);
          counter.update(++finished);
        }
      }),
    );
    const wallMs = performance.now() - wallStart;
    counter.done(finished);

    const after = await cache.stats();
    const served = hitLatency.length;
    const pct = (n: number) => `${((100 * n) / requests).toFixed(1)}%`;
    io.out('');
    for (const line of table([
      ['', 'requests', 'share', 'p50 ms', 'mean ms'],
      ['served by the cache', served, pct(served), fmt(median(hitLatency)), fmt(mean(hitLatency))],
      [
        'called the LLM',
        missLatency.length,
        pct(missLatency.length),
        fmt(median(missLatency)),
        fmt(mean(missLatency)),
      ],
    ])) {
      io.out(line);
    }
    io.out('');
    io.out('hits by tier (this run):');
    for (const t of after.tiers) {
      io.out(
        `  ${t.name.padEnd(10)} ${String(t.hits).padStart(5)} hits, ${t.backfills} backfilled into it, ${t.store?.entries ?? '?'} entries now`,
      );
    }
    if (after.coalesced > 0)
      io.out(
        `  ${'coalesced'.padEnd(10)} ${String(after.coalesced).padStart(5)} waited for an identical call already in flight`,
      );
    const modelMs = mean(missLatency) || (minMs + maxMs) / 2;
    io.out('');
    io.out(
      `LLM calls avoided: ${requests - model.calls} of ${requests} (${pct(requests - model.calls)}), about ${((served * modelMs) / 1000).toFixed(1)} s of model time`,
    );
    io.out(
      `mean latency: ${fmt(mean([...hitLatency, ...missLatency]))} ms with the cache, ~${fmt(modelMs)} ms without it`,
    );
    io.out(
      `wall time: ${(wallMs / 1000).toFixed(1)} s (without the cache: ~${((requests * modelMs) / concurrency / 1000).toFixed(1)} s at the same concurrency)`,
    );
    io.out('');
    io.out(
      'Run the demo again: a new process starts with an empty memory tier, and the SQLite tier serves what it remembers.',
    );
    return 0;
  } finally {
    await opened.strata.close();
  }
};

function intFlag(
  flags: Record<string, string | boolean | undefined>,
  name: string,
  fallback: number,
): number {
  const value = stringFlag(flags, name);
  return value === undefined ? fallback : Number.parseInt(value, 10);
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function fmt(ms: number): string {
  return ms < 10 ? ms.toFixed(3) : ms.toFixed(0);
}
