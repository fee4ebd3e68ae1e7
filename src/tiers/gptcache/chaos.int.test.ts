/**
 * The GPTCache tier on a faulty network: a real GPTCache server (exact mode) behind a Toxiproxy
 * proxy, under the chaos suite's workload and faults (test/support/chaos.ts says what each case
 * holds it to). GPTCache cannot delete or invalidate by tag (the tier says so in health): those
 * calls remove nothing, so every hit is one of the answers stored for its prompt, as checked.
 * Each case's prompts carry a fresh id, so cases never see each other's entries.
 */
import { describe } from 'vitest';
import { itHoldsUnderEveryFault } from '../../../test/support/chaos.js';
import { service } from '../../../test/support/services.js';

const url = new URL(service('gptcache').STRATA_TEST_GPTCACHE_URL!);

describe('gptcache tier behind a faulty network (Toxiproxy)', () => {
  itHoldsUnderEveryFault(
    'gptcache',
    () => url.host,
    (listen) => ({ type: 'gptcache', url: `http://${listen}`, mode: 'exact' }),
  );
});
