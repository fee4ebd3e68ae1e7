/**
 * The PostgreSQL tier on a faulty network: a real PostgreSQL behind a Toxiproxy proxy, under the
 * chaos suite's workload and faults (test/support/chaos.ts says what each case holds it to).
 */
import { describe } from 'vitest';
import { itHoldsUnderEveryFault } from '../../../test/support/chaos.js';
import { service } from '../../../test/support/services.js';
import { tablesDroppedAfterAll, viaProxy } from '../../../test/support/sql-tables.js';

const url = new URL(service('postgres').STRATA_TEST_POSTGRES_URL!);
const prefixFor = tablesDroppedAfterAll('postgres', url);

describe('postgres tier behind a faulty network (Toxiproxy)', () => {
  itHoldsUnderEveryFault(
    'postgres',
    () => `${url.hostname}:${url.port}`,
    // New connections through the fault are bounded like the calls.
    (listen, run) => ({
      type: 'postgres',
      url: viaProxy(url, listen),
      tablePrefix: prefixFor(run),
      connectTimeoutMs: 500,
    }),
  );
});
