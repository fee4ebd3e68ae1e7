/**
 * MySQL-tier hit through StrataCache.lookup vs the floor (a raw mysql2 prepared primary-key
 * SELECT of the same row) and vs Keyv's MySQL store (@keyv/mysql, the cache-manager/Keyv way of
 * keeping answers in MySQL: keyv.get of the same entry), on one local MariaDB started by
 * scripts/services.sh. Sequential with client and server on one core; 32 in flight on two.
 */
import { createPool } from 'mysql2/promise';
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

const services = useServices(['mariadb']);
const { env } = services;
const serverPid = services.pid('mariadb', 'mariadb');
const url = env.STRATA_TEST_MYSQL_URL!;
const keys = prompts(1_000);
const tablePrefix = 'bench_';

const strata = await createCache({ tiers: [{ type: 'mysql', url, tablePrefix, poolSize: 10 }] });
for (let i = 0; i < keys.length; i++) await strata.update(keys[i]!, OPENAI_LIKE_LLM_KEY, chatAnswer(i));
const hashes = keys.map((k) => deriveKey('default', OPENAI_LIKE_LLM_KEY, k).hash);

const raw = createPool({ uri: url, connectionLimit: 10, charset: 'utf8mb4_bin' });
const select = (hash: string) =>
  raw.execute(`SELECT response FROM ${tablePrefix}cache WHERE key_hash = ?`, [hash]);

const { default: Keyv } = await peer<{
  default: new (
    o: object,
  ) => {
    get(k: string): Promise<unknown>;
    set(k: string, v: unknown): Promise<unknown>;
    disconnect(): Promise<void>;
  };
}>('keyv');
const { default: KeyvMysql } = await peer<{ default: new (o: object) => object }>('@keyv/mysql');
const keyv = new Keyv({
  store: new KeyvMysql({ uri: url, table: 'bench_keyv', pool: { connectionLimit: 10 } }),
});
const [rows] = await raw.query(`SELECT key_hash, response FROM ${tablePrefix}cache`);
for (const r of rows as Array<{ key_hash: string; response: string }>) await keyv.set(r.key_hash, r.response);

for (const [name, hit] of [
  ['strata', await strata.lookup(keys[1]!, OPENAI_LIKE_LLM_KEY)],
  ['raw', ((await select(hashes[1]!))[0] as unknown[])[0]],
  ['keyv', await keyv.get(hashes[1]!)],
] as const) {
  if (!hit) throw new Error(`benchmark setup: ${name} missed`);
}

const cases = [
  { name: 'raw mysql2 prepared PK SELECT (floor)', op: (i: number) => select(hashes[i % keys.length]!) },
  {
    name: 'Strata mysql tier, StrataCache.lookup',
    op: (i: number) => strata.lookup(keys[i % keys.length]!, OPENAI_LIKE_LLM_KEY),
  },
  { name: 'Keyv + @keyv/mysql, keyv.get', op: (i: number) => keyv.get(hashes[i % keys.length]!) },
];

pin(process.pid, 0);
pin(serverPid, 0);
report(
  'mysql: sequential hit latency (client and server pinned to one core)',
  await compare(cases, { rounds: 11, opsPerRound: 1_000, warmupOps: 1_000 }),
);
pin(process.pid, 1);
pin(serverPid, 0);
reportConcurrent(
  'mysql: 32 concurrent lookups (client and server on different cores)',
  await compareConcurrent(cases, { inFlight: 32, batches: 30, rounds: 9 }),
  1,
);

await strata.clear({ all: true });
await strata.close();
await raw.query('DROP TABLE IF EXISTS bench_keyv');
await raw.end();
await keyv.disconnect();
services.stop();
