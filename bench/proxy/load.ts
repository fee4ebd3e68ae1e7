/**
 * What large and hostile bodies cost the gateway.
 *
 * Each scenario starts a gateway of its own (memory + SQLite tiers, as the README's example), as
 * a child process pinned to core 1, so its peak RSS (VmHWM) is the scenario's; the client and
 * the upstream share core 0. The upstream is a sink that reads every body without parsing it and
 * answers one fixed chat completion, so the figures are the gateway's alone. Meanwhile another
 * client sends a small request the gateway has cached, one at a time: its slowest answer is the
 * longest the gateway kept everyone else waiting. `PROXY_BENCH_BEFORE=<commit>` runs the same
 * scenarios against that commit too (a temporary copy from `git archive`, sharing node_modules).
 */
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { pin } from '../harness.js';
import { type Before, ROOT, startProbe, startSink, startTs } from './processes.js';
import { REQUESTS } from './requests.js';

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

/** The load part: every scenario on this code, and those `before` knows on its code too. */
export async function benchLoad(before: Before | undefined): Promise<void> {
  const sink = await startSink();
  pin(process.pid, 0);
  pin(sink.pid, 0);
  const roots: Array<{ label: string; root: string; current: boolean }> = [];
  if (before) roots.push({ label: `before (${before.commit})`, root: before.root, current: false });
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
