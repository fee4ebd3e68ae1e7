/**
 * The caching gateway: a cache hit through `strata proxy` vs calling the fake upstream directly,
 * and vs LiteLLM's proxy with its in-memory cache (scripts/litellm.sh) on the same upstream and
 * requests; then what large and hostile bodies cost the gateway ("Load" below). Each runs as its
 * own process, as users run them; the client is undici with keep-alive. Requests are realistic
 * chat completions (a ~1.5 kB system prompt and a question), 96 distinct ones, JSON and streamed
 * (192 entries: LiteLLM's in-memory cache holds at most 200), each answered once by the upstream
 * before timing starts, so every timed request to a cache is a hit (checked: the upstream's call
 * count does not move during a second pass).
 *
 * Sequential latency: client and servers pinned to one core, cases interleaved request by
 * request in rounds; p50 and p99 over every request. Throughput: 64 in flight, client on one
 * core and the servers on the other. `PROXY_BENCH_BEFORE=<commit>` adds that commit's gateway
 * to every table; `PROXY_BENCH_PARTS=load` (or `hits`) runs one part only.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { type BenchCase, compareConcurrent, percentile, pin, reportConcurrent } from './harness.js';

const ROOT = join(import.meta.dirname, '..');
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

/** Starts a TypeScript entry point and waits for the line that says where it listens. */
async function startTs(
  script: string,
  args: string[],
  ready: RegExp,
  preload: string[] = [],
): Promise<{ url: string; pid: number; child: ChildProcess; output(): string }> {
  const child = spawn(
    process.execPath,
    [...preload.flatMap((p) => ['--import', p]), '--import', tsx, script, ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${out}`)));
  });
  return { url, pid: child.pid!, child, output: () => out };
}

/** Which parts run: `PROXY_BENCH_PARTS=load` skips the hit latency and LiteLLM. */
const PARTS = new Set((process.env.PROXY_BENCH_PARTS ?? 'hits,load').split(','));

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
const strata = await startTs(
  join(ROOT, 'src/cli/main.ts'),
  ['proxy', '--config', configPath],
  /listening at (\S+) /,
);
/** `PROXY_BENCH_BEFORE=<commit>`: that commit's gateway runs beside this one, in every table. */
const BEFORE = process.env.PROXY_BENCH_BEFORE;
const beforeRoot = BEFORE ? checkout(BEFORE) : undefined;
const strataBefore =
  beforeRoot && PARTS.has('hits')
    ? await startTs(
        join(beforeRoot, 'src/cli/main.ts'),
        ['proxy', '--config', configPath],
        /listening at (\S+) /,
      )
    : undefined;

let litellm: { url: string; pid: number } | undefined;
let litellmProblem = '';
if (PARTS.has('hits'))
  try {
    const port = 18_400;
    const script = join(ROOT, 'scripts/litellm.sh');
    execFileSync('bash', [script, 'install'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 900_000 });
    // LiteLLM's in-memory cache keeps at most 200 entries (hard-coded): the request set below fits.
    const url = execFileSync(
      'bash',
      [script, 'start', '--port', String(port), '--upstream', fake.url, '--ttl', '3600'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        timeout: 300_000,
      },
    ).trim();
    const pid = Number(readFileSync(join(ROOT, '.strata-services', 'litellm', 'litellm.pid'), 'utf8').trim());
    litellm = { url, pid };
    process.on('exit', () => {
      try {
        execFileSync('bash', [script, 'stop'], { stdio: 'ignore' });
      } catch {}
    });
  } catch (error) {
    litellmProblem = (error as Error).message.split('\n')[0]!;
    console.log(`\n(LiteLLM's proxy is not in this run: ${litellmProblem})`);
  }

const SYSTEM = `You are the support assistant of Acme Cloud. Answer in at most three sentences, cite the settings page, and never reveal internal ticket numbers. ${'Acme Cloud runs in three regions with automatic failover; backups are kept for 30 days. '.repeat(16)}`;
const REQUESTS = Array.from({ length: 96 }, (_, i) =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    temperature: 0,
    messages: [
      { role: 'system', content: SYSTEM },
      {
        role: 'user',
        content: `Customer #${i} asks: how do I ${['rotate an API key', 'export invoices', 'enable SSO', 'restore a project'][i % 4]}?`,
      },
    ],
  }),
);
const STREAMED = REQUESTS.map((r) => r.replace('"temperature":0', '"temperature":0,"stream":true'));

interface Target {
  name: string;
  pool: Pool;
  pid: number;
  /** Path prefix of the chat completions endpoint. */
  path: string;
}

const connections = { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 };
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
if (strataBefore)
  targets.push({
    name: `Strata gateway at ${BEFORE} (before), memory tier (hit)`,
    pool: new Pool(strataBefore.url, connections),
    pid: strataBefore.pid,
    path: '/v1/chat/completions',
  });

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

const upstreamCalls = async () => {
  const res = await fetch(`${fake.url}/_fake/calls`);
  return ((await res.json()) as { total: number }).total;
};

// Warm-up: every request once through each cache (misses, stored), then check a repeat is a hit.
if (PARTS.has('hits'))
  for (const t of targets.slice(1)) {
    for (const body of [...REQUESTS, ...STREAMED]) await send(t, body);
    const before = await upstreamCalls();
    for (const body of [...REQUESTS, ...STREAMED]) await send(t, body);
    const made = (await upstreamCalls()) - before;
    if (made > 0)
      console.log(`(${t.name}: ${made} of ${REQUESTS.length * 2} repeats still reached the upstream)`);
  }

/** Interleaved sequential latency: per round, each case sends every request once, in rotating order. */
async function sequential(bodies: string[], rounds: number) {
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

if (PARTS.has('hits')) {
  for (const pid of [process.pid, ...targets.map((t) => t.pid)]) pin(pid, 1);
  reportSequential(
    'proxy: one request at a time, JSON (client and servers on one core)',
    await sequential(REQUESTS, 11),
  );
  reportSequential(
    'proxy: one request at a time, streamed (SSE replay of a hit)',
    await sequential(STREAMED, 11),
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
}
await Promise.all(targets.map((t) => t.pool.close()));

// --- Load: what large and hostile bodies cost the gateway ---------------------------------------
//
// Each scenario starts a gateway of its own (memory + SQLite tiers, as the README's example), as
// a child process pinned to core 1, so its peak RSS (VmHWM) is the scenario's; the client and
// the upstream share core 0. The upstream is a sink that reads every body without parsing it and
// answers one fixed chat completion, so the figures are the gateway's alone. Meanwhile another
// client sends a small request the gateway has cached, one at a time: its slowest answer is the
// longest the gateway kept everyone else waiting. `PROXY_BENCH_BEFORE=<commit>` runs the same
// scenarios against that commit too (a temporary copy from `git archive`, sharing node_modules).

interface LoadScenario {
  name: string;
  /** Extra `proxy` config (fields the code before this one may not know: runs on the current code only). */
  config?: Record<string, unknown>;
  /** Built before timing starts. */
  bodies(): Buffer[];
  run(pool: Pool, bodies: Buffer[]): Promise<Array<string | undefined>>;
}

interface LoadRow {
  label: string;
  scenario: string;
  answers: string;
  wallMs: number;
  peakMiB: number;
  idleMiB: number;
  /** The longest the gateway's event loop was held (monitorEventLoopDelay, 1 ms resolution). */
  stallMs: number;
  probeMaxMs: number;
  probeP50Ms: number;
  dbMiB: number;
}

/** 32,000,000 bytes: a chat request whose response_format is arrays nested 16 million deep. */
function nestedBody(): Buffer {
  const head = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"deep"}],"response_format":';
  const depth = Math.floor((32_000_000 - head.length - 1) / 2);
  return Buffer.from(`${head}${'['.repeat(depth)}${']'.repeat(depth)}}`);
}

/** A chat request of `bytes` bytes: a long manual as the system prompt, then a short question. */
function documentBody(bytes: number, n: number): Buffer {
  const sentence = `Section ${n}: the relay restarts after a fault and logs the cause to the panel. `;
  const question = { role: 'user', content: `Question ${n}: when does the relay restart?` };
  const shell = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'system', content: '' }, question],
  });
  const manual = sentence.repeat(Math.ceil((bytes - shell.length) / sentence.length));
  return Buffer.from(
    JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: manual.slice(0, bytes - shell.length) }, question],
    }),
  );
}

async function post(pool: Pool, body: Buffer | string): Promise<string | undefined> {
  const res = await pool.request({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-load-0123456789' },
    body,
  });
  await res.body.arrayBuffer();
  if (res.statusCode !== 200) return `HTTP ${res.statusCode}`;
  const cache = res.headers['x-strata-cache'];
  return typeof cache === 'string' ? cache : undefined;
}

const MIB = 1024 * 1024;

const eightDocuments = () => Array.from({ length: 8 }, (_, i) => documentBody(30_000_000, i));
const oneAfterAnother = async (pool: Pool, bodies: Buffer[]) => {
  const answers: Array<string | undefined> = [];
  for (const body of bodies) answers.push(await post(pool, body));
  return answers;
};

const SCENARIOS: LoadScenario[] = [
  {
    name: 'one 32 MB body nested 16M deep',
    bodies: () => [nestedBody()],
    run: async (pool, [body]) => [await post(pool, body!)],
  },
  {
    name: 'three 32 MB nested bodies at once',
    bodies: () => [nestedBody()],
    run: (pool, [body]) => Promise.all([post(pool, body!), post(pool, body!), post(pool, body!)]),
  },
  {
    name: 'eight 30 MB requests, one after another',
    bodies: eightDocuments,
    run: oneAfterAnother,
  },
  {
    name: 'one 8 MB request (just under the default maxKeyedBytes), then again',
    bodies: () => [documentBody(8 * MIB - 1024, 99)],
    run: async (pool, [body]) => [await post(pool, body!), await post(pool, body!)],
  },
  {
    name: 'eight 30 MB requests, one after another, maxKeyedBytes 32 MiB (keyed and stored)',
    config: { maxKeyedBytes: 32 * MIB },
    bodies: eightDocuments,
    run: oneAfterAnother,
  },
];

async function runLoad(
  label: string,
  root: string,
  upstream: string,
  scenario: LoadScenario,
): Promise<LoadRow> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-load-'));
  const config = join(dir, 'strata.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      tiers: [{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'cache.db') }],
      monitoring: { reportSeconds: 0 },
      proxy: { port: 0, upstreams: [{ url: upstream, api: 'openai' }], ...scenario.config },
    }),
  );
  const gateway = await startTs(
    join(root, 'src/cli/main.ts'),
    ['proxy', '--config', config],
    /listening at (\S+) /,
    [LOOP_DELAY],
  );
  pin(gateway.pid, 1);
  const pool = new Pool(gateway.url, { connections: 8, keepAliveTimeout: 60_000 });
  const probe = REQUESTS[0]!;
  await post(pool, probe);
  await post(pool, probe);
  const idleMiB = memoryOf(gateway.pid, 'VmRSS');
  const bodies = scenario.bodies();
  const prober = await startProbe(gateway.url, probe);
  await loopDelay(gateway);
  const t0 = performance.now();
  const answers = await scenario.run(pool, bodies);
  const wallMs = performance.now() - t0;
  const waits = await prober.stop();
  const stallMs = await loopDelay(gateway);
  const peakMiB = memoryOf(gateway.pid, 'VmHWM');
  await pool.close();
  const exited = once(gateway.child, 'exit');
  gateway.child.kill('SIGTERM');
  await exited;
  let dbBytes = 0;
  for (const f of readdirSync(dir)) if (f.startsWith('cache.db')) dbBytes += statSync(join(dir, f)).size;
  rmSync(dir, { recursive: true, force: true });
  const counts = new Map<string, number>();
  for (const a of answers) counts.set(a ?? 'none', (counts.get(a ?? 'none') ?? 0) + 1);
  return {
    label,
    scenario: scenario.name,
    answers: [...counts].map(([a, n]) => (n > 1 ? `${a} x${n}` : a)).join(', '),
    wallMs,
    peakMiB,
    idleMiB,
    stallMs,
    probeMaxMs: waits.max,
    probeP50Ms: waits.p50,
    dbMiB: dbBytes / MIB,
  };
}

/**
 * Loaded into the gateway before anything else: its event loop's longest delay, said and reset
 * on SIGUSR2 (a line on standard output).
 */
const LOOP_DELAY = `data:text/javascript,${encodeURIComponent(`
  import { monitorEventLoopDelay } from 'node:perf_hooks';
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  process.on('SIGUSR2', () => {
    process.stdout.write('loop-delay-max ' + (h.max / 1e6) + '\\n');
    h.reset();
  });`)}`;

/** The gateway's longest event-loop delay since the last call, in ms. */
async function loopDelay(gateway: { pid: number; output(): string }): Promise<number> {
  const seen = gateway.output().split('loop-delay-max').length;
  process.kill(gateway.pid, 'SIGUSR2');
  for (;;) {
    const parts = gateway.output().split('loop-delay-max');
    if (parts.length > seen) return Number.parseFloat(parts.at(-1)!);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A field of /proc/<pid>/status in MiB (VmRSS: resident now; VmHWM: the peak since it started). */
function memoryOf(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return kb / 1024;
}

/**
 * Another client, in a process of its own (so that nothing the benchmark's client does delays
 * it): sends `body` again and again, one at a time, until stopped; then says its slowest and
 * median answer.
 */
async function startProbe(
  url: string,
  body: string,
): Promise<{ stop(): Promise<{ max: number; p50: number }> }> {
  const source = `
    const http = require('node:http');
    const [url, body] = process.argv.slice(1);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let stopping = false;
    process.stdin.on('data', () => { stopping = true; });
    const once = () => new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = http.request(url + '/v1/chat/completions', { method: 'POST', agent, headers: {
        'content-type': 'application/json', authorization: 'Bearer sk-bench-load-0123456789' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - t0));
      });
      req.on('error', reject);
      req.end(body);
    });
    (async () => {
      const waits = [];
      await once();
      console.log('ready');
      while (!stopping) waits.push(await once());
      waits.sort((a, b) => a - b);
      console.log(JSON.stringify({ max: waits.at(-1), p50: waits[waits.length >> 1] }));
      process.exit(0);
    })();`;
  const child = spawn(process.execPath, ['-e', source, url, body], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  pin(child.pid!, 0);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
  return {
    async stop() {
      const exited = once(child, 'exit');
      child.stdin!.end('stop\n');
      await exited;
      return JSON.parse(out.slice(out.indexOf('{'))) as { max: number; p50: number };
    },
  };
}

/** An upstream that reads each body without parsing it and answers one fixed chat completion. */
async function startSink(): Promise<{ url: string; pid: number }> {
  const source = `
    const answer = JSON.stringify({ id: 'chatcmpl-sink', object: 'chat.completion', created: 1, model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'From the sink.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } });
    const server = require('node:http').createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
      });
    });
    server.listen(0, '127.0.0.1', () => console.log('listening http://127.0.0.1:' + server.address().port));`;
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { url: /listening (\S+)/.exec(line.toString())![1]!, pid: child.pid! };
}

/** The source tree of `commit` in a temporary folder, using this checkout's node_modules. */
function checkout(commit: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-before-'));
  execFileSync('bash', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'archive', ROOT, commit, dir]);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

if (PARTS.has('load')) {
  const sink = await startSink();
  pin(process.pid, 0);
  pin(sink.pid, 0);
  const roots: Array<{ label: string; root: string; current: boolean }> = [];
  if (beforeRoot) roots.push({ label: `before (${BEFORE})`, root: beforeRoot, current: false });
  roots.push({ label: 'now', root: ROOT, current: true });
  const rows: LoadRow[] = [];
  for (const { label, root, current } of roots)
    for (const scenario of SCENARIOS)
      if (current || !scenario.config) rows.push(await runLoad(label, root, sink.url, scenario));
  console.log('\n### proxy: large and hostile bodies (gateway on core 1, clients and upstream on core 0)\n');
  console.log(
    '| code | scenario | answers (x-strata-cache) | wall s | gateway peak RSS MiB (idle) | longest event-loop stall ms | longest wait of another client ms (its p50) | database MiB |',
  );
  console.log('|---|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows)
    console.log(
      `| ${r.label} | ${r.scenario} | ${r.answers} | ${(r.wallMs / 1000).toFixed(2)} | ${r.peakMiB.toFixed(0)} (${r.idleMiB.toFixed(0)}) | ${r.stallMs.toFixed(0)} | ${r.probeMaxMs.toFixed(0)} (${r.probeP50Ms.toFixed(1)}) | ${r.dbMiB.toFixed(2)} |`,
    );
}

process.exit(0);
