/**
 * The MySQL tier on a faulty network: a real MariaDB behind a Toxiproxy proxy, under the chaos
 * suite's workload and faults (test/support/chaos.ts says what each case holds it to).
 */
import { createConnection } from 'mysql2/promise';
import { afterAll, describe } from 'vitest';
import { itHoldsUnderEveryFault } from '../../../test/support/chaos.js';
import { service } from '../../../test/support/services.js';

const url = new URL(service('mariadb').STRATA_TEST_MYSQL_URL!);
/** Each case's tables, dropped at the end over a direct connection (not through the proxy). */
const prefixes: string[] = [];

afterAll(async () => {
  const raw = await createConnection({ uri: url.href });
  try {
    for (const prefix of prefixes) {
      for (const table of ['tags', 'cache', 'stats', 'migrations'])
        await raw.query(`DROP TABLE IF EXISTS ${prefix}${table}`);
    }
  } finally {
    await raw.end();
  }
});

describe('mysql tier behind a faulty network (Toxiproxy)', () => {
  itHoldsUnderEveryFault(
    'mysql',
    () => `${url.hostname}:${url.port}`,
    (listen, run) => {
      const tablePrefix = `chaos_${run}_`;
      prefixes.push(tablePrefix);
      const proxied = new URL(url.href);
      proxied.host = listen;
      // New connections through the fault are bounded like the calls.
      return { type: 'mysql', url: proxied.href, tablePrefix, connectTimeoutMs: 500 };
    },
  );
});
