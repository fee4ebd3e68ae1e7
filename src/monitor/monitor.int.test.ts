/** Alerts on a real outage: the Redis service is stopped and restarted under a workload. */
import { describe, expect, it } from 'vitest';
import { service, services } from '../../test/support/services.js';
import { webhookReceiver } from '../../test/support/webhook-receiver.js';
import { demoWorkload } from '../demo/workload.js';
import { createCache } from '../langchain/create.js';
import { createMonitor } from './index.js';

const quiet = { warn: () => {} };
const LLM = 'model:"gpt-test",temperature:0';

describe('alerts', () => {
  it('Redis stopped during a workload: tier_down fires once, the webhook gets it once, and it resolves after a restart', async () => {
    const url = service('redis').STRATA_TEST_REDIS_URL!;
    const hook = await webhookReceiver();
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          { type: 'memory', maxEntries: 20 },
          {
            type: 'redis',
            url,
            keyPrefix: `strata:alerts:${Date.now()}`,
            timeoutMs: 200,
            breaker: { failureThreshold: 3, cooldownMs: 200, maxCooldownMs: 500 },
          },
        ],
        monitoring: {},
      },
      { logger: quiet },
    );
    const monitor = createMonitor(cache, {
      prices: {},
      sampleSeconds: 5,
      alerts: {
        intervalSeconds: 0.2,
        forChecks: 1,
        clearChecks: 2,
        cooldownSeconds: 0,
        log: false,
        rules: [{ type: 'tier_down', tier: 'redis' }],
        webhook: { url: hook.url, timeoutMs: 1_000, retries: 2, headers: {} },
      },
    });
    try {
      // The demo's workload: support questions with Zipf-like repetition.
      const prompts = demoWorkload(600);
      let next = 0;
      const workload = async (rounds: number) => {
        for (let i = 0; i < rounds; i++) {
          const prompt = prompts[next++ % prompts.length]!;
          if (!(await cache.lookup(prompt, LLM)))
            await cache.update(prompt, LLM, [{ text: `answer to ${prompt}` }]);
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      await workload(100);
      expect(hook.received).toEqual([]);
      services('stop', 'redis');
      await workload(150);
      await expect.poll(() => hook.received.length, { timeout: 10_000 }).toBe(1);
      expect(hook.received[0]).toMatchObject({ id: 'tier_down:redis', state: 'firing' });
      await workload(100); // still down: no repeat
      expect(hook.received).toHaveLength(1);
      services('start', 'redis');
      await expect
        .poll(
          async () => {
            await workload(20);
            return hook.received.length;
          },
          { timeout: 20_000, interval: 100 },
        )
        .toBe(2);
      expect(hook.received[1]).toMatchObject({ id: 'tier_down:redis', state: 'resolved' });
    } finally {
      monitor.close();
      await cache.close();
      await hook.close();
      services('start', 'redis');
    }
  });
});
