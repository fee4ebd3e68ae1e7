/**
 * A bounded soak (issue 29): one engine with memory -> SQLite -> Redis -> PostgreSQL tiers, Redis
 * and PostgreSQL reached through Toxiproxy, under the chaos suite's mixed workload for `--minutes`
 * (default 30), with a fault switched on and off every `--period-seconds` (default 60): off, on,
 * off, on... cycling through latency above timeoutMs, a bandwidth limit, reset_peer, a blackhole
 * (timeout), limit_data and slow_close after a cut, on Redis, PostgreSQL or both in turn.
 *
 * Every `--sample-seconds` (10) it records heap, RSS, open fds and sockets, event-loop delay,
 * calls, hits, tier errors and breaker states. At the end, faults off, the workload runs on for
 * `--recovery-seconds` (60), stops, waits for background erasure retries (their backoff tops out
 * at 30 s), closes the engine and checks the ledger (soak/ledger.ts): every answer a durable tier
 * acknowledged that is still live and was not replaced or erased since must be in that tier.
 *
 * Prints a markdown section for bench/README.md (also written to .strata-bench/soak-<time>.md)
 * and exits 1 if a resource grew past its threshold, an entry was lost, an exception reached the
 * caller or a hit was wrong. Uses the running Redis, PostgreSQL and Toxiproxy services, starting
 * through scripts/services.sh only those that are not running, and stopping exactly those.
 *
 *   npm run bench -- soak                                   # 30 minutes
 *   npm run bench -- soak --minutes 2 --period-seconds 20   # a quick try
 *   npm run bench -- soak --snapshots   # also heap snapshots after the warm-up and at the end
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { createClient } from '@redis/client';
import pg from 'pg';
import type { StrataConfig } from '../src/config/schema.js';
import { deriveKey } from '../src/core/key.js';
import { createStrata } from '../src/engine/create.js';
import type { Strata } from '../src/engine/strata.js';
import { useServices } from './services.js';
import { median, type Sample, Sampler, slope, sparkline } from './soak/sampler.js';
import { createProxy, type SoakProxy, type Toxic } from './soak/toxiproxy.js';
import { type Verdict, verify } from './soak/verify.js';
import { LLM, Workload } from './soak/workload.js';

const { values: opts } = parseArgs({
  args: process.argv.slice(process.argv.indexOf('soak') + 1),
  options: {
    minutes: { type: 'string', default: '30' },
    'period-seconds': { type: 'string', default: '60' },
    'sample-seconds': { type: 'string', default: '10' },
    'recovery-seconds': { type: 'string', default: '60' },
    /** Heap snapshots into .strata-bench/ after the warm-up and once the workload has stopped. */
    snapshots: { type: 'boolean', default: false },
  },
});
const MINUTES = Number(opts.minutes);
const PERIOD_S = Number(opts['period-seconds']);
const SAMPLE_S = Number(opts['sample-seconds']);
const RECOVERY_S = Number(opts['recovery-seconds']);
for (const [name, v] of Object.entries({ MINUTES, PERIOD_S, SAMPLE_S, RECOVERY_S })) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`soak: ${name} must be a positive number`);
}
const PERIODS = Math.max(2, Math.round((MINUTES * 60) / PERIOD_S));
/** Longest background retry delay of a failed erasure (core/maintenance.ts), plus a margin. */
const ERASURE_RETRY_WAIT_S = 35;
const TIMEOUT_MS = 250;

/**
 * Flatness is judged after a warm-up of two periods (one healthy, one faulty: caches fill, pools
 * and the JIT settle), comparing the second half of the remaining samples with the first:
 * - heap (live, measured after a forced full GC): the medians may grow by at most HEAP_MB. A
 *   leak grows linearly, so the medians of the halves differ by half of what it adds after the
 *   warm-up: one retained object of ~100 bytes per call at ~150 calls/s adds ~11 MB to the
 *   difference in 30 minutes; 3 MB also catches ~400 KB kept per fault cycle. The ledger itself
 *   grows by one small record per `cold` answer (one per 5 s, ~100 KB over 30 minutes).
 * - RSS: medians may grow by at most RSS_MB: RSS also holds what the allocator keeps after a
 *   peak and never gives back, so it gets more room than the heap.
 * - fds and sockets: the second half's maximum may exceed the first half's by at most FD_SLACK
 *   (connections being remade when the fault ends can briefly overlap), and the last sample
 *   (faults off, workload stopped) may exceed the first half's median by at most FD_SLACK.
 */
const HEAP_MB = 3;
const RSS_MB = 20;
const FD_SLACK = 2;

type Target = 'redis' | 'postgres' | 'both';
const FAULTS: Array<{ name: string; toxics: Toxic[] }> = [
  { name: 'latency 400±150 ms', toxics: [{ type: 'latency', attributes: { latency: 400, jitter: 150 } }] },
  { name: 'bandwidth 1 KB/s', toxics: [{ type: 'bandwidth', attributes: { rate: 1 } }] },
  { name: 'reset_peer', toxics: [{ type: 'reset_peer', attributes: { timeout: 0 } }] },
  { name: 'timeout (blackhole)', toxics: [{ type: 'timeout', attributes: { timeout: 0 } }] },
  { name: 'limit_data 3 KB', toxics: [{ type: 'limit_data', attributes: { bytes: 3_000 } }] },
  {
    name: 'slow_close 3 s after 8 KB',
    toxics: [
      { type: 'limit_data', attributes: { bytes: 8_192 } },
      { type: 'slow_close', attributes: { delay: 3_000 } },
    ],
  },
];
const TARGETS: Target[] = ['redis', 'postgres', 'both'];

/** Period p: even periods are healthy; odd ones carry fault number (p - 1) / 2. */
function faultOf(period: number): { fault: (typeof FAULTS)[number]; target: Target } | undefined {
  if (period % 2 === 0) return undefined;
  const f = (period - 1) / 2;
  // Targets rotate against the faults, so each fault meets a different backend on each round.
  return { fault: FAULTS[f % FAULTS.length]!, target: TARGETS[(f + Math.floor(f / FAULTS.length)) % 3]! };
}

function label(period: number): string {
  const f = faultOf(period);
  return f ? `${f.fault.name} on ${f.target}` : 'none';
}

/** Periods whose fault Toxiproxy did not take. */
const notApplied = new Set<number>();

/** Takes every toxic off, retrying: a fault left on would spoil the rest of the soak. */
async function clearToxics(proxy: SoakProxy): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await proxy.clear();
      return;
    } catch (error) {
      if (attempt === 5) throw error;
      console.error(
        `[soak] could not clear the toxics of ${proxy.name} (attempt ${attempt}): ${String(error)}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}

const abort = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`[soak] ${signal}: stopping early and cleaning up`);
    abort.abort();
  });
}
/** Waits `ms`, or less when the soak is stopped early. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    abort.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const run = randomUUID().slice(0, 8);
const keyPrefix = `strata-soak-${run}`;
const tablePrefix = `soak_${run}_`;
const dir = mkdtempSync(join(tmpdir(), 'strata-soak-'));
const sqlitePath = join(dir, 'soak.db');
const services = useServices(['redis', 'postgres', 'toxiproxy']);
const { env } = services;
const proxies: SoakProxy[] = [];
let exitCode = 0;
try {
  const redisUrl = new URL(env.STRATA_TEST_REDIS_URL!);
  const pgUrl = new URL(env.STRATA_TEST_POSTGRES_URL!);
  const api = env.STRATA_TEST_TOXIPROXY_URL!;
  const redisProxy = await createProxy(api, 'redis', redisUrl.host);
  proxies.push(redisProxy);
  const pgProxy = await createProxy(api, 'postgres', pgUrl.host);
  proxies.push(pgProxy);
  const proxiedPg = new URL(pgUrl.href);
  proxiedPg.host = pgProxy.listen;

  const durable = {
    sqlite: { type: 'sqlite', path: sqlitePath },
    redis: { type: 'redis', url: `redis://${redisProxy.listen}`, keyPrefix, connectTimeoutMs: 500 },
    postgres: { type: 'postgres', url: proxiedPg.href, tablePrefix, connectTimeoutMs: 500 },
  } as const;
  const config: StrataConfig = {
    tiers: [
      { type: 'memory', maxEntries: 300 },
      { ...durable.sqlite, timeoutMs: TIMEOUT_MS },
      { ...durable.redis, timeoutMs: TIMEOUT_MS },
      { ...durable.postgres, timeoutMs: TIMEOUT_MS },
    ],
  };
  const warnings = new Map<string, number>();
  const strata = await createStrata(config, {
    logger: {
      warn: (m) => {
        const kind = m.replace(/\(.*$/s, '').slice(0, 90);
        warnings.set(kind, (warnings.get(kind) ?? 0) + 1);
      },
    },
  });
  let verdict: Verdict | undefined;
  let sampler: Sampler | undefined;
  const workload = new Workload(strata, run);
  const startedAt = new Date();
  try {
    for (let i = 0; (await strata.health()).status !== 'up'; i++) {
      if (i > 60) throw new Error('soak: the tiers did not come up within 30 s');
      await pause(500);
    }
    let period = 0;
    // When each period began: a sample is filed under the period its interval's midpoint is in.
    const began: Array<{ at: number; period: number }> = [];
    const enter = (p: number) => {
      period = p;
      began.push({ at: Date.now(), period: p });
    };
    sampler = new Sampler(strata, workload, () => {
      const mid = Date.now() - SAMPLE_S * 500;
      const p = began.findLast((b) => b.at <= mid)?.period ?? 0;
      return { period: p, fault: p < PERIODS ? label(p) : 'none' };
    });
    const timer = setInterval(() => {
      void sampler!.sample().then((s) => {
        const opens = Object.entries(s.opens).map(([t, n]) => `${t} ${n}`);
        console.error(
          `[soak] ${s.t}s p${s.period} ${s.fault}: heap ${s.heapMB.toFixed(1)} MB, rss ${s.rssMB.toFixed(1)} MB, fds ${s.fds}, sockets ${s.sockets}, calls ${s.calls}, hits ${s.hits}/${s.lookups}, errors ${s.errors}, slowest ${s.slowestMs.toFixed(0)} ms, eld p99 ${s.eldP99Ms.toFixed(1)} ms${opens.length ? `, opened ${opens.join(', ')}` : ''}`,
        );
      });
    }, SAMPLE_S * 1000);
    workload.start();
    const t0 = Date.now();
    for (enter(0); period < PERIODS && !abort.signal.aborted; enter(period + 1)) {
      const f = faultOf(period);
      const on = f
        ? f.target === 'both'
          ? [redisProxy, pgProxy]
          : [f.target === 'redis' ? redisProxy : pgProxy]
        : [];
      if (period === 2) snapshot('warm');
      for (const p of on) {
        try {
          await p.add(f!.fault.toxics);
        } catch (error) {
          // The soak goes on; the report names the period whose fault did not go on.
          notApplied.add(period);
          console.error(`[soak] could not put ${label(period)} on ${p.name}: ${String(error)}`);
        }
      }
      await pause(t0 + (period + 1) * PERIOD_S * 1000 - Date.now());
      for (const p of on) await clearToxics(p);
    }
    // The loop ended by entering period PERIODS: recovery, faults off, workload on.
    await pause(RECOVERY_S * 1000);
    await workload.stop();
    enter(PERIODS + 1);
    await pause(ERASURE_RETRY_WAIT_S * 1000);
    snapshot('end');
    await sampler.sample();
    clearInterval(timer);
    sampler.close();
    const stats = await strata.stats({ store: false });
    await strata.close();
    if (!abort.signal.aborted) {
      const directPg = { ...durable.postgres, url: pgUrl.href };
      const directRedis = { ...durable.redis, url: redisUrl.href, bus: false };
      verdict = await verify(
        workload.ledger,
        { sqlite: durable.sqlite, redis: directRedis, postgres: directPg },
        (s, prompt) => deriveKey(s.namespace, LLM, prompt),
      );
    }
    const section = report({ startedAt, sampler, workload, verdict, stats, warnings });
    console.log(section.markdown);
    const out = join(import.meta.dirname, '..', '.strata-bench');
    mkdirSync(out, { recursive: true });
    const file = join(out, `soak-${startedAt.toISOString().replace(/[:.]/g, '-')}.md`);
    writeFileSync(file, section.markdown);
    writeFileSync(
      file.replace(/\.md$/, '.json'),
      JSON.stringify({ samples: sampler.samples, verdict }, null, 1),
    );
    console.error(`[soak] written to ${file}`);
    if (!section.pass) exitCode = 1;
  } finally {
    await workload.stop();
    await strata.close();
  }
} catch (error) {
  console.error('[soak] failed:', error);
  exitCode = 1;
} finally {
  await cleanUp();
}
process.exit(exitCode);

function snapshot(when: string): void {
  if (!opts.snapshots) return;
  const out = join(import.meta.dirname, '..', '.strata-bench');
  mkdirSync(out, { recursive: true });
  console.error(`[soak] heap snapshot: ${writeHeapSnapshot(join(out, `soak-${run}-${when}.heapsnapshot`))}`);
}

/** Deletes the proxies, the Redis keys and PostgreSQL tables of this run, the SQLite dir; stops what was started. */
async function cleanUp(): Promise<void> {
  for (const p of proxies) await p.delete().catch((e: unknown) => console.error(`[soak] ${String(e)}`));
  try {
    if (env.STRATA_TEST_REDIS_URL) {
      const client = createClient({ url: env.STRATA_TEST_REDIS_URL });
      await client.connect();
      for await (const batch of client.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 500 })) {
        const keys = ([] as string[]).concat(batch as string | string[]);
        if (keys.length > 0) await client.unlink(keys);
      }
      await client.close();
    }
  } catch (e) {
    console.error(`[soak] could not delete the Redis keys ${keyPrefix}*: ${String(e)}`);
  }
  try {
    if (env.STRATA_TEST_POSTGRES_URL) {
      const raw = new pg.Client({ connectionString: env.STRATA_TEST_POSTGRES_URL });
      await raw.connect();
      const { rows } = await raw.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)",
        [tablePrefix],
      );
      for (const { tablename } of rows) await raw.query(`DROP TABLE IF EXISTS "${tablename}" CASCADE`);
      await raw.end();
    }
  } catch (e) {
    console.error(`[soak] could not drop the PostgreSQL tables ${tablePrefix}*: ${String(e)}`);
  }
  rmSync(dir, { recursive: true, force: true });
  services.stop();
}

// ---------------------------------------------------------------------------------------------
// The report

function report(input: {
  startedAt: Date;
  sampler: Sampler;
  workload: Workload;
  verdict: Verdict | undefined;
  stats: Awaited<ReturnType<Strata['stats']>>;
  warnings: Map<string, number>;
}): { markdown: string; pass: boolean } {
  const { startedAt, sampler, workload, verdict, stats, warnings } = input;
  const samples = sampler.samples;
  const lines: string[] = [];
  const say = (l = '') => lines.push(l);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const cmd =
    MINUTES === 30 && PERIOD_S === 60
      ? 'npm run bench -- soak'
      : `npm run bench -- soak --minutes ${MINUTES} --period-seconds ${PERIOD_S}`;
  say(`### Soak, ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  say();
  say('```sh');
  say(cmd);
  say('```');
  say();
  say(
    `${MINUTES} min (${PERIODS} periods of ${PERIOD_S} s, then ${RECOVERY_S} s of recovery and ${ERASURE_RETRY_WAIT_S} s idle), ` +
      `samples every ${SAMPLE_S} s; node ${process.version}, ${cpus().length} x ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GB, ` +
      `load average at the end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(
          ' / ',
        )}. Tiers memory (300 entries) -> SQLite (temp file) -> Redis -> PostgreSQL, the last two through Toxiproxy, ` +
      `timeoutMs ${TIMEOUT_MS}, default breaker.`,
  );
  say();
  // One row per period.
  say(
    `| ${PERIOD_S === 60 ? 'min' : `period (${PERIOD_S} s)`} | fault | heap MB | RSS MB | fds | sockets | calls/s | hits % | tier errors | breaker opens | slowest call ms | ELD p99 ms |`,
  );
  say('|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|');
  const periods = [...new Set(samples.map((s) => s.period))].sort((a, b) => a - b);
  const rows: Array<{ heap: number; rss: number }> = [];
  for (const p of periods) {
    const ss = samples.filter((s) => s.period === p);
    const sum = (f: (s: Sample) => number) => ss.reduce((n, s) => n + f(s), 0);
    const opens: Record<string, number> = {};
    for (const s of ss) for (const [t, n] of Object.entries(s.opens)) opens[t] = (opens[t] ?? 0) + n;
    const heap = median(ss.map((s) => s.heapMB));
    const rss = median(ss.map((s) => s.rssMB));
    rows.push({ heap, rss });
    const lookups = sum((s) => s.lookups);
    say(
      `| ${p < PERIODS ? p + 1 : p === PERIODS ? 'end' : 'idle'} | ${p < PERIODS ? `${label(p)}${notApplied.has(p) ? ' (**not applied**: Toxiproxy did not answer)' : ''}` : p === PERIODS ? `none (recovery, ${RECOVERY_S} s)` : `none (workload stopped, ${ERASURE_RETRY_WAIT_S} s)`} | ${heap.toFixed(1)} | ${rss.toFixed(1)} | ${Math.max(...ss.map((s) => s.fds))} | ${Math.max(...ss.map((s) => s.sockets))} | ${(sum((s) => s.calls) / (ss.length * SAMPLE_S)).toFixed(0)} | ${lookups ? ((100 * sum((s) => s.hits)) / lookups).toFixed(0) : '-'} | ${sum((s) => s.errors)} | ${
        Object.entries(opens)
          .map(([t, n]) => `${t} ${n}`)
          .join(', ') || '-'
      } | ${Math.max(...ss.map((s) => s.slowestMs)).toFixed(0)} | ${Math.max(...ss.map((s) => s.eldP99Ms)).toFixed(0)} |`,
    );
  }
  say();
  say(
    'Per row: medians of heap and RSS, maxima of fds, sockets, the slowest workload call and event-loop delay over its samples.',
  );
  say();
  say('```');
  say(
    `heap ${sparkline(rows.map((r) => r.heap))}  ${Math.min(...rows.map((r) => r.heap)).toFixed(1)}-${Math.max(...rows.map((r) => r.heap)).toFixed(1)} MB`,
  );
  say(
    `RSS  ${sparkline(rows.map((r) => r.rss))}  ${Math.min(...rows.map((r) => r.rss)).toFixed(1)}-${Math.max(...rows.map((r) => r.rss)).toFixed(1)} MB`,
  );
  say('```');
  say();

  // Flatness
  const warm = samples.filter((s) => s.period >= 2 && s.period < PERIODS);
  const idle = samples.filter((s) => s.period === PERIODS + 1);
  const half = Math.floor(warm.length / 2);
  const [a, b] = [warm.slice(0, half), warm.slice(half)];
  const last = idle.at(-1) ?? samples.at(-1)!;
  const checks: Array<{ what: string; value: string; limit: string; ok: boolean }> = [];
  let pass = true;
  if (a.length >= 2 && b.length >= 2) {
    const perTenMin = (f: (s: Sample) => number) =>
      slope(
        warm.map((s) => s.t),
        warm.map(f),
      ) * 600;
    for (const [what, f, limit] of [
      ['heap', (s: Sample) => s.heapMB, HEAP_MB],
      ['RSS', (s: Sample) => s.rssMB, RSS_MB],
    ] as const) {
      const growth = median(b.map(f)) - median(a.map(f));
      checks.push({
        what: `${what}: median of the 2nd half - 1st half (fit: ${perTenMin(f).toFixed(2)} MB/10 min)`,
        value: `${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB`,
        limit: `<= ${limit} MB`,
        ok: growth <= limit,
      });
    }
    for (const [what, f] of [
      ['fds', (s: Sample) => s.fds],
      ['sockets', (s: Sample) => s.sockets],
    ] as const) {
      const maxA = Math.max(...a.map(f));
      const maxB = Math.max(...b.map(f));
      checks.push({
        what: `${what}: max of the 2nd half vs the 1st (fit: ${perTenMin(f).toFixed(2)}/10 min)`,
        value: `${maxB} vs ${maxA}`,
        limit: `<= +${FD_SLACK}`,
        ok: maxB <= maxA + FD_SLACK,
      });
      const medA = median(a.map(f));
      checks.push({
        what: `${what}: at the end (idle) vs the 1st half's median`,
        value: `${f(last)} vs ${medA}`,
        limit: `<= +${FD_SLACK}`,
        ok: f(last) <= medA + FD_SLACK,
      });
    }
  } else {
    checks.push({ what: 'flatness', value: 'too few samples after warm-up', limit: '-', ok: false });
  }
  const escaped = workload.total.escaped;
  const wrong = workload.total.wrong;
  checks.push({
    what: 'exceptions that reached the caller',
    value: String(escaped),
    limit: '0',
    ok: escaped === 0,
  });
  checks.push({
    what: 'wrong hits (not an answer stored for the prompt)',
    value: String(wrong),
    limit: '0',
    ok: wrong === 0,
  });
  if (verdict) {
    checks.push({
      what: 'acknowledged entries lost',
      value: String(verdict.losses.length),
      limit: '0',
      ok: verdict.losses.length === 0,
    });
  } else {
    checks.push({
      what: 'acknowledged entries lost',
      value: 'not checked (stopped early)',
      limit: '0',
      ok: false,
    });
  }
  say('| check | value | limit | |');
  say('|---|---:|---:|---|');
  for (const c of checks) {
    say(`| ${c.what} | ${c.value} | ${c.limit} | ${c.ok ? 'pass' : '**FAIL**'} |`);
    pass &&= c.ok;
  }
  say();
  const t = workload.total;
  say(
    `Workload: ${t.calls.toLocaleString('en-US')} calls (${t.lookups.toLocaleString('en-US')} lookups, ${t.hits.toLocaleString('en-US')} hits), ` +
      `${workload.ledger.erasureFailures} erasures incomplete on some tier (retried in the background); engine: ${stats.lookups.toLocaleString('en-US')} lookups, ` +
      `${stats.hits.toLocaleString('en-US')} hits, ${stats.updates.toLocaleString('en-US')} updates; per tier errors/timeouts/skipped: ` +
      stats.tiers.map((x) => `${x.name} ${x.errors}/${x.timeouts}/${x.skipped}`).join(', ') +
      '.',
  );
  if (verdict) {
    say();
    say(
      `Ledger: ${verdict.keys} keys; last change an acknowledged update ${verdict.checkable + verdict.expired} ` +
        `(${verdict.expired} since expired), raced by another change of the key ${verdict.raced}, erased ${verdict.erased} ` +
        `(${workload.ledger.clean.toLocaleString('en-US')} clean updates, ${workload.ledger.raced.toLocaleString('en-US')} raced, over the run). ` +
        `Checked, found exactly: ${Object.keys(verdict.checked)
          .map((k) => `${k} ${verdict.ok[k]}/${verdict.checked[k]}`)
          .join(', ')}.`,
    );
    for (const loss of verdict.losses.slice(0, 20)) say(`- lost: ${loss}`);
    if (verdict.losses.length > 20) say(`- ... and ${verdict.losses.length - 20} more`);
  }
  for (const e of workload.escapedErrors) say(`- escaped: ${e}`);
  for (const w of workload.wrongHits) say(`- wrong hit: ${w}`);
  if (warnings.size > 0) {
    say();
    say(`Warnings logged: ${[...warnings].map(([k, n]) => `${n} x "${k.trim()}"`).join('; ')}.`);
  }
  return { markdown: lines.join('\n'), pass };
}
