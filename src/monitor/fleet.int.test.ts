/** Fleet counters over a shared Redis (the SQLite case and the rest are in fleet.test.ts). */
import { describe, it } from 'vitest';
import { fleetCase } from '../../test/support/fleet-case.js';
import { service } from '../../test/support/services.js';

describe('fleet counters: strata serve shows the sum over every process', () => {
  it('memory + Redis: processes sharing a Redis', async () => {
    const env = service('redis');
    await fleetCase([
      { type: 'memory' },
      { type: 'redis', url: env.STRATA_TEST_REDIS_URL!, keyPrefix: `fleet${Date.now()}` },
    ]);
  });
});
