/**
 * Side-by-side timing: the compared implementations run interleaved in one process (round r
 * runs every case once, in rotating order), so drift in CPU frequency or neighbours' load hits
 * all of them alike. Reported per case: the median over rounds of the mean time per operation,
 * and the ratio to the first (baseline) case.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { AIMessage } from '@langchain/core/messages';
import type { ChatGeneration } from '@langchain/core/outputs';
import type { TierConfig } from '../src/index.js';
import type { Embedder } from '../src/tiers/semantic/embedders/embedder.js';
import type { Vector } from '../src/tiers/semantic/vectors/vector.js';

export interface BenchCase {
  name: string;
  /** One operation; `i` lets a case walk through its key set. */
  op: (i: number) => unknown;
}

export interface BenchResult {
  name: string;
  medianUs: number;
  ratio: number;
  opsPerSecond: number;
}

export interface BenchOptions {
  rounds?: number;
  opsPerRound?: number;
  warmupOps?: number;
}

export async function compare(cases: BenchCase[], options: BenchOptions = {}): Promise<BenchResult[]> {
  const { rounds = 21, opsPerRound = 5_000, warmupOps = 5_000 } = options;
  for (const c of cases) for (let i = 0; i < warmupOps; i++) await c.op(i);
  const samples = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (r + k) % cases.length;
      const c = cases[index]!;
      const start = performance.now();
      for (let i = 0; i < opsPerRound; i++) await c.op(i);
      samples[index]!.push(((performance.now() - start) * 1000) / opsPerRound);
    }
  }
  const medians = samples.map(median);
  return cases.map((c, i) => ({
    name: c.name,
    medianUs: medians[i]!,
    ratio: medians[i]! / medians[0]!,
    opsPerSecond: 1e6 / medians[i]!,
  }));
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function report(title: string, results: BenchResult[]): void {
  console.log(`\n### ${title}\n`);
  console.log('| implementation | median µs/op | ops/s | ratio to baseline |');
  console.log('|---|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.medianUs.toFixed(2)} | ${Math.round(r.opsPerSecond).toLocaleString('en-US')} | ${r.ratio.toFixed(2)}x |`,
    );
  }
}

/**
 * A realistic llmKey: what ChatOpenAI 1.6 serializes (`_getSerializedCacheKeyParametersForCall`)
 * for `{ model: 'gpt-4o-mini', temperature: 0.2, maxTokens: 512, apiKey, configuration: { baseURL } }`,
 * API key included (Strata strips it). Its client configuration is what lets the plain BaseCache
 * path trust it (src/langchain/model-identity.ts); a key without it would not be cached at all.
 */
export const OPENAI_LIKE_LLM_KEY = [
  '_model:"base_chat_model"',
  '_type:"openai"',
  'apiKey:"sk-proj-0123456789abcdefghijklmnopqrstuvwxyzABCDEF"',
  'baseURL:"https://api.example.test/v1"',
  'dangerouslyAllowBrowser:true',
  'max_tokens:512',
  'model:"gpt-4o-mini"',
  'model_name:"gpt-4o-mini"',
  'stream:false',
  'temperature:0.2',
].join(',');

/** `count` distinct chat prompts of realistic length (a system line plus a question, ~300-600 chars). */
export function prompts(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) =>
      `System: You are a concise support assistant for Acme Cloud. Answer in at most three sentences and cite the settings page when relevant.\nHuman: Customer #${i} asks: how do I ${['rotate an API key', 'export invoices', 'enable SSO', 'restore a project'][i % 4]} when my workspace ${['has 2FA enforced', 'is on the team plan', 'was migrated last week', 'uses a custom domain'][(i >> 2) % 4]}? Please include the exact menu path and any caveats for admins (ticket ${(i * 7919) % 100_000}).`,
  );
}

/** A typical cached chat answer: short text, usage and response metadata. */
export function chatAnswer(i: number): ChatGeneration[] {
  const text = `To do that, open Settings -> Security -> API keys (#${i}). Admins see an extra confirmation step.`;
  return [
    {
      text,
      message: new AIMessage({
        content: text,
        usage_metadata: { input_tokens: 120, output_tokens: 40, total_tokens: 160 },
        response_metadata: { model_name: 'gpt-4o-mini', finish_reason: 'stop' },
      }),
    },
  ];
}

/**
 * Imports a peer cache from bench/peers, installing that folder first if needed. Peers live
 * apart from the project so their dependency trees (and @langchain/community's peer conflicts)
 * never touch Strata's own install.
 */
export async function peer<T>(specifier: string): Promise<T> {
  const dir = join(import.meta.dirname, 'peers');
  const resolve = () => createRequire(join(dir, 'package.json')).resolve(specifier);
  let resolved: string;
  try {
    resolved = resolve();
  } catch {
    // Not installed yet, or bench/peers gained a package since the last install.
    console.error('installing benchmark peers (bench/peers) ...');
    execFileSync('npm', ['ci', '--legacy-peer-deps', '--no-audit', '--no-fund'], {
      cwd: dir,
      stdio: 'inherit',
    });
    resolved = resolve();
  }
  return (await import(pathToFileURL(resolved).href)) as T;
}

/** Pins a process (all its threads) to one CPU, so sequential round trips are not skewed by migrations. */
export function pin(pid: number, cpu: number): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  } catch {
    console.error(`(could not pin pid ${pid} to cpu ${cpu}; figures will be noisier)`);
  }
}

export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export interface ConcurrentResult {
  name: string;
  opsPerSecond: number;
  p99Ms: number;
}

/**
 * Throughput with `inFlight` operations outstanding: interleaved rounds as in compare(); per
 * case the median over rounds of ops/s, and the p99 of every operation's latency (the first
 * round is warm-up).
 */
export async function compareConcurrent(
  cases: BenchCase[],
  { inFlight, batches = 40, rounds = 11 }: { inFlight: number; batches?: number; rounds?: number },
): Promise<ConcurrentResult[]> {
  const throughput = cases.map(() => [] as number[]);
  const latencies = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const index = (r + k) % cases.length;
      const c = cases[index]!;
      const start = performance.now();
      for (let b = 0; b < batches; b++) {
        await Promise.all(
          Array.from({ length: inFlight }, async (_, j) => {
            const t0 = performance.now();
            await c.op(b * inFlight + j);
            if (r > 0) latencies[index]!.push(performance.now() - t0);
          }),
        );
      }
      if (r > 0) throughput[index]!.push((batches * inFlight) / ((performance.now() - start) / 1000));
    }
  }
  return cases.map((c, i) => ({
    name: c.name,
    opsPerSecond: median(throughput[i]!),
    p99Ms: percentile(latencies[i]!, 0.99),
  }));
}

/** `strataIndex` names the row the last column compares against. */
export function reportConcurrent(title: string, results: ConcurrentResult[], strataIndex: number): void {
  const strata = results[strataIndex]!.opsPerSecond;
  console.log(`\n### ${title}\n`);
  console.log('| implementation | median ops/s | p99 ms | Strata throughput vs this |');
  console.log('|---|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.name} | ${Math.round(r.opsPerSecond).toLocaleString('en-US')} | ${r.p99Ms.toFixed(2)} | ${(strata / r.opsPerSecond).toFixed(2)}x |`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Paraphrase data (semantic and embedders benchmarks)

/**
 * ../shared/data/semantic, beside the project root (see ../shared/README.md); `SEMANTIC_DATA`
 * names another folder (a checkout elsewhere, e.g. a git worktree).
 */
export const SEMANTIC_DATA =
  process.env.SEMANTIC_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data', 'semantic');

/**
 * The public paraphrase sets (GPTCache's mock set, Quora pairs, MeanCache) live beside the
 * project in ../shared/data, never in the repository or the package. A benchmark that needs them
 * says so and stops when they are absent.
 */
export function requireSemanticData(bench: string): void {
  if (existsSync(join(SEMANTIC_DATA, 'gptcache_mock_data.json'))) return;
  console.log(
    `\n${bench}: not run, it needs the paraphrase data sets in ${SEMANTIC_DATA} (see bench/README.md), which are absent here.`,
  );
  process.exit(0);
}

/** GPTCache's mock set: 999 `{ origin, similar }` pairs. */
export function gptcacheMockPairs(): Array<{ origin: string; similar: string }> {
  return JSON.parse(readFileSync(join(SEMANTIC_DATA, 'gptcache_mock_data.json'), 'utf8')) as Array<{
    origin: string;
    similar: string;
  }>;
}

/** Deterministic sample (every k-th item), so runs are comparable. */
export function sample<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  const step = items.length / n;
  return Array.from({ length: n }, (_, i) => items[Math.floor(i * step)]!);
}

/** Embeds in batches, in order. */
export async function embedAll(embedder: Embedder, texts: string[], batch = 256): Promise<Vector[]> {
  const out: Vector[] = [];
  for (let i = 0; i < texts.length; i += batch)
    out.push(...(await embedder.embed(texts.slice(i, i + batch))));
  return out;
}

/** Distinct Quora questions of ordinary length, in file order. */
export function quoraQuestions(): string[] {
  const pairs = JSON.parse(
    gunzipSync(readFileSync(join(SEMANTIC_DATA, 'qqp_full_pairs.json.gz'))).toString('utf8'),
  ) as Array<{ text_a: string; text_b: string }>;
  return [...new Set(pairs.flatMap((p) => [p.text_a, p.text_b]))].filter(
    (q) => q.length > 10 && q.length < 300,
  );
}

/**
 * For the start-up benchmarks, in a fresh process: createCache with `tier` (a semantic tier of
 * 100k Quora questions in namespace `bench`), then the first lookup and 300 lookups of unseen
 * questions, written to stdout as a table row's cells.
 */
export async function measureSemanticStart(tier: TierConfig, stored: number): Promise<void> {
  const { createCache } = await import('../src/index.js');
  const t0 = performance.now();
  const cache = await createCache({ coalesceWaitMs: 0, monitoring: { reportSeconds: 0 }, tiers: [tier] });
  const started = (performance.now() - t0) / 1000;
  const probes = quoraQuestions().slice(stored, stored + 301);
  const view = cache.withNamespace('bench');
  const t1 = performance.now();
  await view.lookup(probes[0]!, 'model:"m"');
  const first = performance.now() - t1;
  const times: number[] = [];
  for (const p of probes.slice(1)) {
    const t = performance.now();
    await view.lookup(p, 'model:"m"');
    times.push(performance.now() - t);
  }
  await cache.close();
  process.stdout.write(
    `${started.toFixed(2)} | ${first.toFixed(1)} | ${median(times).toFixed(2)} | ${percentile(times, 0.99).toFixed(2)}`,
  );
}
