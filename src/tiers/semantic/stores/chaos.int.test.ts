/**
 * The semantic tier's shared store on a faulty network: entries and vectors in a real PostgreSQL
 * with pgvector, reached through a Toxiproxy proxy, under the chaos suite's workload and faults
 * (test/support/chaos.ts says what each case holds it to). The workload's prompts differ in a
 * number only, so a similar prompt's answer served as a hit would show as a wrong hit.
 */
import { describe } from 'vitest';
import { itHoldsUnderEveryFault } from '../../../../test/support/chaos.js';
import { service } from '../../../../test/support/services.js';
import { tablesDroppedAfterAll, viaProxy } from '../../../../test/support/sql-tables.js';

const url = new URL(service('postgres').STRATA_TEST_POSTGRES_URL!);
const prefixFor = tablesDroppedAfterAll('postgres', url);

describe('semantic tier, shared pgvector store, behind a faulty network (Toxiproxy)', () => {
  itHoldsUnderEveryFault(
    'semantic-pgvector',
    () => `${url.hostname}:${url.port}`,
    (listen, run) => {
      const tablePrefix = prefixFor(run);
      // New connections through the fault are bounded like the calls.
      return {
        type: 'semantic',
        embeddings: 'lexical',
        store: { type: 'postgres', url: viaProxy(url, listen), tablePrefix, connectTimeoutMs: 500 },
      };
    },
  );
});
