/**
 * What encryption at rest costs per hit: the same engine lookups (createStrata, lookup) of the
 * same entries on a tier without `encryption` and on one with it (AES-256-GCM, one active key),
 * side by side in one process, for memory (never sealed: the cost should be none), SQLite and
 * Redis; hot (a small key set asked again: a payload read again is opened once) and cold (more
 * keys than the process keeps opened, so every hit opens its payload). Sequential (median µs per
 * hit, hits/s) and, for Redis, 64 lookups in flight.
 *
 * Redis is the running test service (scripts/services.sh, `.strata-services/env`); when it does
 * not run, this starts it and stops it again afterwards (bench/services.ts). Keys go under a prefix of this
 * run and are cleared at the end. Run under `taskset -c 1` for the sequential figures.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CacheKey, createStrata, deriveKey, type Strata, type StrataConfig } from '../src/index.js';
import { type BenchCase, compare, compareConcurrent, prompts, report } from './harness.js';
import { useServices } from './services.js';

const KEY_ENV = 'STRATA_BENCH_ENCRYPTION_KEY';
process.env[KEY_ENV] = randomBytes(32).toString('base64');
const encryption = { keys: [{ id: 'bench', keyEnv: KEY_ENV }], active: 'bench' };

/**
 * Hot: 1,000 keys asked again and again, as a cache's popular prompts are (a sealed payload read
 * again is opened once: core/encryption/opened.ts). Cold: 20,000 keys asked in turn, more than the
 * opened and decoded payloads kept in memory (8 MiB), so every hit opens and decodes its payload.
 */
const HOT = 1_000;
const keys = prompts(20_000);
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-encryption-'));
const prefix = `strata-bench-enc-${process.pid}`;

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

async function filled(config: StrataConfig, count = keys.length): Promise<Cache> {
  const cache = await createStrata({ namespace: 'bench', coalesceWaitMs: 0, ...config });
  for (let i = 0; i < count; i++) await cache.update(cacheKeys[i]!, answer(i));
  if (!(await cache.lookup(cacheKeys[7]!))) throw new Error('benchmark setup: a lookup missed');
  return cache;
}

const hot = (cache: Cache) => (i: number) => cache.lookup(cacheKeys[i % HOT]!, { claim: false });
/** Walks all the keys in turn across rounds (the harness's `i` starts again every round). */
function cold(cache: Cache): (i: number) => Promise<unknown> {
  let n = 0;
  return () => cache.lookup(cacheKeys[n++ % keys.length]!, { claim: false });
}

/** Sequential hit latency: plain first (the baseline), then sealed. */
async function pair(
  title: string,
  plain: Cache,
  sealed: Cache,
  temperature: 'hot' | 'cold',
): Promise<BenchCase[]> {
  const op = temperature === 'hot' ? hot : cold;
  const cases = [
    { name: `${title}, ${temperature}, no encryption (baseline)`, op: op(plain) },
    { name: `${title}, ${temperature}, encryption (AES-256-GCM)`, op: op(sealed) },
  ];
  const what = temperature === 'hot' ? '1,000 keys asked again' : '20,000 keys in turn';
  report(
    `encryption: ${title} hit latency, ${what}, sequential`,
    await compare(cases, { rounds: 15, opsPerRound: 2_000, warmupOps: 2_000 }),
  );
  return cases;
}

async function concurrently(title: string, cases: BenchCase[]): Promise<void> {
  const results = await compareConcurrent(cases, { inFlight: 64 });
  console.log(`\n### encryption: ${title}, 64 concurrent lookups\n`);
  console.log('| implementation | median hits/s | p99 ms | hits/s ratio to baseline |');
  console.log('|---|---:|---:|---:|');
  for (const r of results)
    console.log(
      `| ${r.name} | ${Math.round(r.opsPerSecond).toLocaleString('en-US')} | ${r.p99Ms.toFixed(2)} | ${(r.opsPerSecond / results[0]!.opsPerSecond).toFixed(2)}x |`,
    );
}

const services = useServices(['redis']);
const redis = { url: services.env.STRATA_TEST_REDIS_URL! };
const caches: Cache[] = [];
try {
  const memoryPlain = await filled({ tiers: [{ type: 'memory' }] }, HOT);
  const memorySealed = await filled({ tiers: [{ type: 'memory' }], encryption }, HOT);
  caches.push(memoryPlain, memorySealed);
  await pair('memory (never sealed)', memoryPlain, memorySealed, 'hot');

  const sqlitePlain = await filled({ tiers: [{ type: 'sqlite', path: join(dir, 'plain.db') }] });
  const sqliteSealed = await filled({
    tiers: [{ type: 'sqlite', path: join(dir, 'sealed.db') }],
    encryption,
  });
  caches.push(sqlitePlain, sqliteSealed);
  await pair('SQLite', sqlitePlain, sqliteSealed, 'hot');
  await pair('SQLite', sqlitePlain, sqliteSealed, 'cold');

  const redisPlain = await filled({
    tiers: [{ type: 'redis', url: redis.url, keyPrefix: `${prefix}-plain` }],
  });
  const redisSealed = await filled({
    tiers: [{ type: 'redis', url: redis.url, keyPrefix: `${prefix}-sealed` }],
    encryption,
  });
  caches.push(redisPlain, redisSealed);
  await concurrently('Redis hot', await pair('Redis', redisPlain, redisSealed, 'hot'));
  await concurrently('Redis cold', await pair('Redis', redisPlain, redisSealed, 'cold'));
} finally {
  for (const cache of caches) {
    await cache.clear().catch(() => {});
    await cache.close();
  }
  rmSync(dir, { recursive: true, force: true });
  services.stop();
}
