/**
 * The Redis tier on a faulty network: a real Redis behind a Toxiproxy proxy, under the chaos
 * suite's workload and faults (test/support/chaos.ts says what each case holds it to).
 */
import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { CHAOS_BREAKER, FAULTS, runChaosCase, TIMEOUT_MS } from '../../../test/support/chaos.js';
import { service } from '../../../test/support/services.js';
import { toxiproxy } from '../../../test/support/toxiproxy.js';
import { createStrata } from '../../engine/create.js';

describe('redis tier behind a faulty network (Toxiproxy)', () => {
  it.each(FAULTS)('$name: bounded calls, no wrong hit, breaker opens, serves again after', async (fault) => {
    const redisUrl = new URL(service('redis').STRATA_TEST_REDIS_URL!);
    const proxy = await toxiproxy().createProxy('redis', `${redisUrl.hostname}:${redisUrl.port}`);
    const run = randomUUID().slice(0, 8);
    const strata = await createStrata(
      {
        tiers: [
          {
            type: 'redis',
            url: `redis://${proxy.listen}`,
            keyPrefix: `strata-chaos-${run}`,
            timeoutMs: TIMEOUT_MS,
            // Reconnects through the fault are bounded like the calls.
            connectTimeoutMs: 500,
            breaker: CHAOS_BREAKER,
          },
        ],
      },
      { logger: { warn: () => {} } },
    );
    try {
      await runChaosCase(fault, proxy, strata, run);
    } finally {
      await strata.close();
    }
  });
});
