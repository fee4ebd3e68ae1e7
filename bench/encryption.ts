/**
 * What encryption at rest costs per hit: the same engine lookup (createStrata) of the same entries, on a
 * tier without `encryption` and on one with it (AES-256-GCM, one active key), side by side in one
 * process, for memory (never sealed: the cost should be none), SQLite and Redis. Sequential
 * (median µs per hit, hits/s) and, for Redis, 64 lookups in flight.
 *
 * Redis is the running test service (scripts/services.sh, `.strata-services/env`); when none
 * answers, this starts one and stops exactly that one afterwards. Keys go under a prefix of this
 * run and are cleared at the end. Run under `taskset -c 1` for the sequential figures.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { type CacheKey, createStrata, deriveKey, type Strata, type StrataConfig } from '../src/index.js';
import { type BenchCase, compare, compareConcurrent, prompts, report } from './harness.js';

const root = join(import.meta.dirname, '..');
const KEY_ENV = 'STRATA_BENCH_ENCRYPTION_KEY';
process.env[KEY_ENV] = randomBytes(32).toString('base64');
const encryption = { keys: [{ id: 'bench', keyEnv: KEY_ENV }], active: 'bench' };

const keys = prompts(1_000);
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-encryption-'));
const prefix = `strata-bench-enc-${process.pid}`;

/** The Redis URL of the running service, or one started here (stopped at the end). */
async function redisUrl(): Promise<{ url: string; started: boolean }> {
  const envFile = join(root, '.strata-services/env');
  const fromFile = () =>
    existsSync(envFile)
      ? /^STRATA_TEST_REDIS_URL=(.*)$/m.exec(readFileSync(envFile, 'utf8'))?.[1]
      : undefined;
  const known = process.env.STRATA_TEST_REDIS_URL ?? fromFile();
  if (known && (await answers(known))) return { url: known, started: false };
  execFileSync('bash', [join(root, 'scripts/services.sh'), 'start', 'redis'], { stdio: 'inherit' });
  return { url: fromFile()!, started: true };
}

async function answers(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 1_000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => {});
  }
}

type Cache = Strata;
const cacheKeys: CacheKey[] = keys.map((prompt) =>
  deriveKey('bench', '{"model":"gpt-4o-mini","endpoint":"https://api.example.test/v1"}', prompt),
);
/** A typical chat answer as the engine stores it: one generation with text and usage. */
const answer = (i: number) => [
  {
    text: `To do that, open Settings -> Security -> API keys (#${i}). Admins see an extra confirmation step.`,
    generationInfo: { tokenUsage: { promptTokens: 120, completionTokens: 40, totalTokens: 160 } },
  },
];

async function filled(config: StrataConfig): Promise<Cache> {
  const cache = await createStrata({ namespace: 'bench', coalesceWaitMs: 0, ...config });
  for (let i = 0; i < keys.length; i++) await cache.update(cacheKeys[i]!, answer(i));
  if (!(await cache.lookup(cacheKeys[7]!))) throw new Error('benchmark setup: a lookup missed');
  return cache;
}

const hit = (cache: Cache) => (i: number) => cache.lookup(cacheKeys[i % keys.length]!, { claim: false });

/** Sequential hit latency: plain first (the baseline), then sealed. */
async function pair(title: string, plain: Cache, sealed: Cache): Promise<BenchCase[]> {
  const cases = [
    { name: `${title}, no encryption (baseline)`, op: hit(plain) },
    { name: `${title}, encryption (AES-256-GCM)`, op: hit(sealed) },
  ];
  report(
    `encryption: ${title} hit latency, 1,000 keys, sequential`,
    await compare(cases, { rounds: 15, opsPerRound: 2_000, warmupOps: 2_000 }),
  );
  return cases;
}

const redis = await redisUrl();
const caches: Cache[] = [];
try {
  const memoryPlain = await filled({ tiers: [{ type: 'memory' }] });
  const memorySealed = await filled({ tiers: [{ type: 'memory' }], encryption });
  caches.push(memoryPlain, memorySealed);
  await pair('memory (never sealed)', memoryPlain, memorySealed);

  const sqlitePlain = await filled({ tiers: [{ type: 'sqlite', path: join(dir, 'plain.db') }] });
  const sqliteSealed = await filled({
    tiers: [{ type: 'sqlite', path: join(dir, 'sealed.db') }],
    encryption,
  });
  caches.push(sqlitePlain, sqliteSealed);
  await pair('SQLite', sqlitePlain, sqliteSealed);

  const redisPlain = await filled({
    tiers: [{ type: 'redis', url: redis.url, keyPrefix: `${prefix}-plain` }],
  });
  const redisSealed = await filled({
    tiers: [{ type: 'redis', url: redis.url, keyPrefix: `${prefix}-sealed` }],
    encryption,
  });
  caches.push(redisPlain, redisSealed);
  const redisCases = await pair('Redis', redisPlain, redisSealed);
  const concurrent = await compareConcurrent(redisCases, { inFlight: 64 });
  console.log('\n### encryption: Redis, 64 concurrent lookups\n');
  console.log('| implementation | median hits/s | p99 ms | hits/s ratio to baseline |');
  console.log('|---|---:|---:|---:|');
  for (const r of concurrent)
    console.log(
      `| ${r.name} | ${Math.round(r.opsPerSecond).toLocaleString('en-US')} | ${r.p99Ms.toFixed(2)} | ${(r.opsPerSecond / concurrent[0]!.opsPerSecond).toFixed(2)}x |`,
    );
} finally {
  for (const cache of caches) {
    await cache.clear().catch(() => {});
    await cache.close();
  }
  rmSync(dir, { recursive: true, force: true });
  if (redis.started)
    execFileSync('bash', [join(root, 'scripts/services.sh'), 'stop', 'redis'], { stdio: 'inherit' });
}
