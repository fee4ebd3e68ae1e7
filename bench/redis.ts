/**
 * Redis-tier hit through StrataCache.lookup vs the floor (a raw node-redis GET of the same key)
 * and vs LangChain's two Redis caches (@langchain/community's ioredis RedisCache and
 * @langchain/redis's RedisCache), on one local redis-server started by scripts/services.sh.
 *
 * Sequential: client and server pinned to the same core (a loopback round trip is ~20 µs there,
 * ~100 µs across cores), one lookup at a time. Concurrent: 64 lookups in flight, client and
 * server on different cores; throughput and p99 latency per lookup.
 */

import { hash } from 'node:crypto';
import { type BaseCache, deserializeStoredGeneration, serializeGeneration } from '@langchain/core/caches';
import type { StoredGeneration } from '@langchain/core/messages';
import { createClient } from '@redis/client';
import { createCache, deriveKey } from '../src/index.js';
import {
  chatAnswer,
  compare,
  compareConcurrent,
  OPENAI_LIKE_LLM_KEY,
  peer,
  pin,
  prompts,
  report,
  reportConcurrent,
} from './harness.js';
import { useServices } from './services.js';

const services = useServices(['redis']);
const { env } = services;
const serverPid = services.pid('redis', 'redis');
const url = env.STRATA_TEST_REDIS_URL!;

const keys = prompts(1_000);
const keyPrefix = 'strata-bench';

const strata = await createCache({ tiers: [{ type: 'redis', url, keyPrefix }] });
// The floor runs with the same client options as Strata's tier (no per-command timeout timer).
const raw = createClient({ url, commandOptions: { timeout: 0 } });
await raw.connect();
const rawKeys = keys.map((k) => `${keyPrefix}:default:${deriveKey('default', OPENAI_LIKE_LLM_KEY, k).hash}`);

const { default: IORedis } = await peer<{ default: new (url: string) => { quit(): Promise<unknown> } }>(
  'ioredis',
);
const { RedisCache: CommunityRedisCache } = await peer<{ RedisCache: new (client: unknown) => BaseCache }>(
  '@langchain/community/caches/ioredis',
);
const { RedisCache: LangchainRedisCache } = await peer<{ RedisCache: new (client: unknown) => BaseCache }>(
  '@langchain/redis',
);
const { createClient: createClientV4 } = await peer<{
  createClient: (o: { url: string }) => { connect(): Promise<unknown>; quit(): Promise<unknown> };
}>('redis');
const ioredis = new IORedis(url);
const community = new CommunityRedisCache(ioredis);
const v4 = createClientV4({ url });
await v4.connect();
const langchainRedis = new LangchainRedisCache(v4);

for (let i = 0; i < keys.length; i++) {
  await strata.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));
  await community.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));
  await langchainRedis.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));
}
for (const [name, hit] of [
  ['strata', await strata.lookup(keys[1]!, OPENAI_LIKE_LLM_KEY)],
  ['raw', await raw.get(rawKeys[1]!)],
  ['community', await community.lookup(keys[1]!, OPENAI_LIKE_LLM_KEY)],
  ['langchain-redis', await langchainRedis.lookup(keys[1]!, OPENAI_LIKE_LLM_KEY)],
] as const) {
  if (!hit) throw new Error(`benchmark setup: ${name} missed`);
}

// The floor any correct LangChain cache has: GET, parse the stored generations, build fresh
// LangChain messages (what @langchain/redis's RedisCache does on a hit, without its key hashing).
const floorKeys = keys.map((_, i) => `${keyPrefix}-floor:${i}`);
for (let i = 0; i < keys.length; i++)
  await raw.set(floorKeys[i]!, JSON.stringify(chatAnswer(i).map((g) => serializeGeneration(g))));
// And with the key every correct cache must derive before its GET: a collision-resistant hash of
// prompt and llm key (LangChain's own caches use SHA-256 of both; here node's native one).
const keyedFloor = (prompt: string) =>
  `${keyPrefix}-floor:${hash('sha256', `${prompt}_${OPENAI_LIKE_LLM_KEY}`, 'hex')}`;
for (let i = 0; i < keys.length; i++)
  await raw.set(keyedFloor(keys[i]!), JSON.stringify(chatAnswer(i).map((g) => serializeGeneration(g))));
const parseAndBuild = (value: string | null) =>
  value === null
    ? null
    : (JSON.parse(value) as StoredGeneration[]).map((g) => deserializeStoredGeneration(g));

const cases = [
  { name: 'raw node-redis GET (floor)', op: (i: number) => raw.get(rawKeys[i % keys.length]!) },
  {
    name: 'GET + JSON.parse + LangChain messages (the floor of a correct cache)',
    op: (i: number) => raw.get(floorKeys[i % keys.length]!).then(parseAndBuild),
  },
  {
    name: 'SHA-256 key + GET + JSON.parse + LangChain messages (the floor, with its key)',
    op: (i: number) => raw.get(keyedFloor(keys[i % keys.length]!)).then(parseAndBuild),
  },
  {
    name: 'Strata redis tier, StrataCache.lookup',
    op: (i: number) => strata.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
  },
  {
    name: '@langchain/community RedisCache (ioredis)',
    op: (i: number) => community.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
  },
  {
    name: '@langchain/redis RedisCache (node-redis 4)',
    op: (i: number) => langchainRedis.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
  },
];

pin(process.pid, 0);
pin(serverPid, 0);
report(
  'redis: sequential hit latency (client and server pinned to one core)',
  await compare(cases, { rounds: 15, opsPerRound: 2_000, warmupOps: 2_000 }),
);

pin(process.pid, 1);
pin(serverPid, 0);
reportConcurrent(
  'redis: 64 concurrent lookups (client and server on different cores)',
  await compareConcurrent(cases, { inFlight: 64 }),
  3,
);

await raw.del([...floorKeys, ...keys.map(keyedFloor)]);
await strata.clear({ all: true });
await strata.close();
await raw.close();
await ioredis.quit();
await v4.quit();
services.stop();
