/**
 * The MongoDB tier on a faulty network: a real FerretDB (the MongoDB wire protocol) behind a
 * Toxiproxy proxy, under the chaos suite's workload and faults (test/support/chaos.ts says what
 * each case holds it to).
 */
import { MongoClient } from 'mongodb';
import { afterAll, describe } from 'vitest';
import { itHoldsUnderEveryFault } from '../../../test/support/chaos.js';
import { service } from '../../../test/support/services.js';

const url = new URL(service('ferretdb').STRATA_TEST_MONGODB_URL!);
/** Each case's database, dropped at the end over a direct connection (not through the proxy). */
const databases: string[] = [];

afterAll(async () => {
  const raw = new MongoClient(url.href, { serverSelectionTimeoutMS: 5_000 });
  try {
    for (const database of databases) await raw.db(database).dropDatabase();
  } finally {
    await raw.close();
  }
});

describe('mongodb tier (FerretDB) behind a faulty network (Toxiproxy)', () => {
  itHoldsUnderEveryFault(
    'mongodb',
    () => url.host,
    (listen, run) => {
      const database = `strata_chaos_${run}`;
      databases.push(database);
      // New connections and server selection through the fault are bounded like the calls.
      return { type: 'mongodb', url: `mongodb://${listen}/`, database, connectTimeoutMs: 500 };
    },
  );
});
