/**
 * A cache hit through `strata proxy` vs calling the fake upstream directly, and vs LiteLLM's
 * proxy with its in-memory cache (scripts/litellm.sh) on the same upstream and requests, each
 * answered once by the upstream before timing starts, so every timed request to a cache is a hit
 * (checked: the upstream's call count does not move during a second pass).
 *
 * Sequential latency: client and servers pinned to one core, cases interleaved request by
 * request in rounds; p50 and p99 over every request. Throughput: 64 in flight, client on one
 * core and the servers on the other.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { type BenchCase, compareConcurrent, percentile, pin, reportConcurrent } from '../harness.js';
import { type Before, ROOT, startTs } from './processes.js';
import { REQUESTS, STREAMED } from './requests.js';

interface Target {
  name: string;
  pool: Pool;
  pid: number;
  /** Path prefix of the chat completions endpoint. */
  path: string;
}

const connections = { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 };

/** LiteLLM's proxy in front of `upstream`, or undefined (said why) when it cannot run here. */
function startLiteLLM(upstream: string): { url: string; pid: number } | undefined {
  if (process.env.PROXY_BENCH_LITELLM === '0') {
    console.log("\n(LiteLLM's proxy is not in this run: PROXY_BENCH_LITELLM=0)");
    return undefined;
  }
  try {
    const port = 18_400;
    const script = join(ROOT, 'scripts/litellm.sh');
    execFileSync('bash', [script, 'install'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 900_000 });
    // LiteLLM's in-memory cache keeps at most 200 entries (hard-coded): the request set fits.
    const url = execFileSync(
      'bash',
      [script, 'start', '--port', String(port), '--upstream', upstream, '--ttl', '3600'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        timeout: 300_000,
      },
    ).trim();
    const pid = Number(readFileSync(join(ROOT, '.strata-services', 'litellm', 'litellm.pid'), 'utf8').trim());
    process.on('exit', () => {
      try {
        execFileSync('bash', [script, 'stop'], { stdio: 'ignore' });
      } catch {}
    });
    return { url, pid };
  } catch (error) {
    const problem = (error as Error).message.split('\n')[0]!;
    console.log(`\n(LiteLLM's proxy is not in this run: ${problem})`);
    return undefined;
  }
}

/** The fake upstream, this gateway in front of it, and (when they can run) LiteLLM and `before`'s gateway. */
async function startTargets(before: Before | undefined): Promise<{ targets: Target[]; upstream: string }> {
  const fake = await startTs(
    join(ROOT, 'test/support/fake-llm-server.ts'),
    ['--piece-delay', '0'],
    /listening (\S+)/,
  );
  const configDir = mkdtempSync(join(tmpdir(), 'strata-bench-proxy-'));
  const configPath = join(configDir, 'strata.config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      tiers: [{ type: 'memory', maxEntries: 10_000 }],
      monitoring: { reportSeconds: 0 },
      proxy: { port: 0, upstreams: [{ url: fake.url, api: 'openai' }] },
    }),
  );
  const gateway = (root: string) =>
    startTs(join(root, 'src/cli/main.ts'), ['proxy', '--config', configPath], /listening at (\S+) /);
  const strata = await gateway(ROOT);
  const strataBefore = before ? await gateway(before.root) : undefined;
  const litellm = startLiteLLM(fake.url);

  const targets: Target[] = [
    {
      name: 'fake upstream, called directly (baseline)',
      pool: new Pool(fake.url, connections),
      pid: fake.pid,
      path: '/v1/chat/completions',
    },
    {
      name: 'Strata gateway, memory tier (hit)',
      pool: new Pool(strata.url, connections),
      pid: strata.pid,
      path: '/v1/chat/completions',
    },
  ];
  if (litellm)
    targets.push({
      name: 'LiteLLM proxy, in-memory cache (hit)',
      pool: new Pool(litellm.url, connections),
      pid: litellm.pid,
      path: '/v1/chat/completions',
    });
  if (before && strataBefore)
    targets.push({
      name: `Strata gateway at ${before.commit} (before), memory tier (hit)`,
      pool: new Pool(strataBefore.url, connections),
      pid: strataBefore.pid,
      path: '/v1/chat/completions',
    });
  return { targets, upstream: fake.url };
}

async function send(t: Target, body: string): Promise<Record<string, string | string[] | undefined>> {
  const res = await t.pool.request({
    method: 'POST',
    path: t.path,
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-0123456789' },
    body,
  });
  await res.body.arrayBuffer();
  if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode}`);
  return res.headers;
}

/** Every request once through each cache (misses, stored), then a check that a repeat is a hit. */
async function warmUp(targets: readonly Target[], upstream: string): Promise<void> {
  const upstreamCalls = async () => {
    const res = await fetch(`${upstream}/_fake/calls`);
    return ((await res.json()) as { total: number }).total;
  };
  for (const t of targets.slice(1)) {
    for (const body of [...REQUESTS, ...STREAMED]) await send(t, body);
    const before = await upstreamCalls();
    for (const body of [...REQUESTS, ...STREAMED]) await send(t, body);
    const made = (await upstreamCalls()) - before;
    if (made > 0)
      console.log(`(${t.name}: ${made} of ${REQUESTS.length * 2} repeats still reached the upstream)`);
  }
}

/** Interleaved sequential latency: per round, each case sends every request once, in rotating order. */
async function sequential(targets: readonly Target[], bodies: string[], rounds: number) {
  const latencies = targets.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < targets.length; k++) {
      const index = (r + k) % targets.length;
      for (const body of bodies) {
        const t0 = performance.now();
        await send(targets[index]!, body);
        if (r > 0) latencies[index]!.push(performance.now() - t0);
      }
    }
  }
  const base = percentile(latencies[0]!, 0.5);
  return targets.map((t, i) => ({
    name: t.name,
    p50: percentile(latencies[i]!, 0.5),
    p99: percentile(latencies[i]!, 0.99),
    ratio: percentile(latencies[i]!, 0.5) / base,
  }));
}

function reportSequential(title: string, rows: Awaited<ReturnType<typeof sequential>>): void {
  console.log(`\n### ${title}\n`);
  console.log('| path | p50 ms | p99 ms | p50 vs direct |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows)
    console.log(`| ${r.name} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.ratio.toFixed(2)}x |`);
}

/** The hit part: the tables of sequential latency (JSON, streamed) and of throughput. */
export async function benchHits(before: Before | undefined): Promise<void> {
  const { targets, upstream } = await startTargets(before);
  await warmUp(targets, upstream);
  for (const pid of [process.pid, ...targets.map((t) => t.pid)]) pin(pid, 1);
  reportSequential(
    'proxy: one request at a time, JSON (client and servers on one core)',
    await sequential(targets, REQUESTS, 11),
  );
  reportSequential(
    'proxy: one request at a time, streamed (SSE replay of a hit)',
    await sequential(targets, STREAMED, 11),
  );

  pin(process.pid, 0);
  const cases: BenchCase[] = targets.map((t) => ({
    name: t.name,
    op: (i: number) => send(t, REQUESTS[i % REQUESTS.length]!),
  }));
  reportConcurrent(
    'proxy: 64 requests in flight, JSON (client on one core, servers on the other)',
    await compareConcurrent(cases, { inFlight: 64 }),
    1,
  );
  await Promise.all(targets.map((t) => t.pool.close()));
}
