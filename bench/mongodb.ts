/**
 * MongoDB-tier hit through StrataCache.lookup vs the floor (a raw findOne of the same document
 * by key, fetching only its response) and vs LangChain's MongoDBCache (@langchain/mongodb,
 * lookup of the same prompt, with an index on its (prompt, llm) filter), all on one local
 * FerretDB 1.24.2 (SQLite backend) started by scripts/services.sh, through the same driver.
 * Sequential with client and server on one core; 32 in flight on two.
 */
import type { ChatGeneration } from '@langchain/core/outputs';
import { MongoClient } from 'mongodb';
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

const services = useServices(['ferretdb']);
const { env } = services;
const serverPid = services.pid('ferretdb', 'ferretdb');
const url = env.STRATA_TEST_MONGODB_URL!;
const database = 'strata_bench';
const keys = prompts(1_000);

const client = new MongoClient(url, { maxPoolSize: 10 });
await client.db(database).dropDatabase();
const strata = await createCache({
  tiers: [{ type: 'mongodb', url, database, collection: 'strata', poolSize: 10 }],
});
for (let i = 0; i < keys.length; i++) await strata.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));
const hashes = keys.map((k) => deriveKey('default', OPENAI_LIKE_LLM_KEY, k).hash);

const docs = client.db(database).collection<{ _id: string }>('strata');
const findOne = (hash: string) => docs.findOne({ _id: hash }, { projection: { response: 1 } });

const { MongoDBCache } = await peer<{
  MongoDBCache: new (o: {
    collection: unknown;
  }) => {
    lookup(p: string, k: string): Promise<unknown>;
    update(p: string, k: string, v: ChatGeneration[]): Promise<void>;
  };
}>('@langchain/mongodb');
const peerCollection = client.db(database).collection('langchain');
await peerCollection.createIndex({ prompt: 1, llm: 1 });
const langchain = new MongoDBCache({ collection: peerCollection });
for (let i = 0; i < keys.length; i++) await langchain.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));

for (const [name, hit] of [
  ['strata', await strata.lookup(keys[1]!, OPENAI_LIKE_LLM_KEY)],
  ['raw', await findOne(hashes[1]!)],
  ['langchain', await langchain.lookup(keys[1]!, OPENAI_LIKE_LLM_KEY)],
] as const) {
  if (!hit) throw new Error(`benchmark setup: ${name} missed`);
}

const cases = [
  { name: 'raw findOne by key (floor)', op: (i: number) => findOne(hashes[i % keys.length]!) },
  {
    name: 'Strata mongodb tier, StrataCache.lookup',
    op: (i: number) => strata.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
  },
  {
    name: "LangChain's MongoDBCache.lookup",
    op: (i: number) => langchain.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
  },
];

pin(process.pid, 0);
pin(serverPid, 0);
report(
  'mongodb (FerretDB 1.24.2, SQLite backend): sequential hit latency (client and server pinned to one core)',
  await compare(cases, { rounds: 9, opsPerRound: 300, warmupOps: 300 }),
);
pin(process.pid, 1);
pin(serverPid, 0);
reportConcurrent(
  'mongodb (FerretDB 1.24.2): 32 concurrent lookups (client and server on different cores)',
  await compareConcurrent(cases, { inFlight: 32, batches: 10, rounds: 7 }),
  1,
);

await strata.close();
await client.db(database).dropDatabase();
await client.close();
services.stop();
