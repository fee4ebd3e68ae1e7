/**
 * The semantic tier's shared store on a faulty network: entries and vectors in a real PostgreSQL
 * with pgvector, reached through a Toxiproxy proxy, under the chaos suite's workload and faults
 * (test/support/chaos.ts says what each case holds it to). The workload's prompts differ in a
 * number only, so a similar prompt's answer served as a hit would show as a wrong hit.
 */
import pg from 'pg';
import { afterAll, describe } from 'vitest';
import { itHoldsUnderEveryFault } from '../../../../test/support/chaos.js';
import { service } from '../../../../test/support/services.js';

const url = new URL(service('postgres').STRATA_TEST_POSTGRES_URL!);
/** Each case's tables, dropped at the end over a direct connection (not through the proxy). */
const prefixes: string[] = [];

afterAll(async () => {
  const raw = new pg.Client({ connectionString: url.href });
  await raw.connect();
  try {
    for (const prefix of prefixes) {
      const { rows } = await raw.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)",
        [prefix],
      );
      for (const { tablename } of rows) await raw.query(`DROP TABLE IF EXISTS "${tablename}" CASCADE`);
    }
  } finally {
    await raw.end();
  }
});

describe('semantic tier, shared pgvector store, behind a faulty network (Toxiproxy)', () => {
  itHoldsUnderEveryFault(
    'semantic-pgvector',
    () => `${url.hostname}:${url.port}`,
    (listen, run) => {
      const tablePrefix = `chaos_${run}_`;
      prefixes.push(tablePrefix);
      const proxied = new URL(url.href);
      proxied.host = listen;
      // New connections through the fault are bounded like the calls.
      return {
        type: 'semantic',
        embeddings: 'lexical',
        store: { type: 'postgres', url: proxied.href, tablePrefix, connectTimeoutMs: 500 },
      };
    },
  );
});
