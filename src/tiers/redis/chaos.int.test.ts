/**
 * The Redis tier on a faulty network: a real Redis behind a Toxiproxy proxy, under the chaos
 * suite's workload and faults (test/support/chaos.ts says what each case holds it to).
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { BOUND_MS, itHoldsUnderEveryFault, openChaosTier, TIMEOUT_MS } from '../../../test/support/chaos.js';
import { service } from '../../../test/support/services.js';
import { deriveKey } from '../../core/key.js';

/** The real Redis, as host:port, that every case's proxy forwards to. */
function upstream(): string {
  const url = new URL(service('redis').STRATA_TEST_REDIS_URL!);
  return `${url.hostname}:${url.port}`;
}

/** The real cluster's nodes, host:port, as they announce themselves in the slot map. */
function clusterNodes(): string[] {
  return service('redis-cluster').STRATA_TEST_REDIS_CLUSTER_NODES!.split(',');
}

describe('redis cluster behind a faulty network (Toxiproxy, one proxy per node)', () => {
  // The client learns the nodes from the slot map, which names their real ports: nodeAddressMap
  // sends it (and every MOVED/ASK) through each node's proxy instead. Were it bypassed, the fault
  // would not reach the client, and no case would see its breaker open.
  itHoldsUnderEveryFault('redis-cluster', clusterNodes, (_listen, run, proxies) => ({
    type: 'redis',
    mode: 'cluster',
    nodes: proxies.map((p) => p.listen),
    nodeAddressMap: Object.fromEntries(proxies.map((p) => [p.info.upstream, p.listen])),
    keyPrefix: `strata-chaos-${run}`,
    connectTimeoutMs: 500,
  }));
});

/** One Redis tier behind its own proxy, once it serves (node-redis connects in the background). */
async function openServingRedis() {
  const opened = await openChaosTier('redis', upstream(), (listen, run) => ({
    type: 'redis',
    url: `redis://${listen}`,
    keyPrefix: `strata-chaos-${run}`,
  }));
  await expect.poll(async () => (await opened.strata.health()).status, { timeout: 10_000 }).toBe('up');
  return opened;
}

describe('redis tier behind a faulty network (Toxiproxy)', () => {
  itHoldsUnderEveryFault('redis', upstream, (listen, run) => ({
    type: 'redis',
    url: `redis://${listen}`,
    keyPrefix: `strata-chaos-${run}`,
    // Reconnects through the fault are bounded like the calls.
    connectTimeoutMs: 500,
  }));

  it('a claim whose reply the network lost does not make this instance wait for its own lease', async () => {
    const { proxy, strata, run } = await openServingRedis();
    try {
      const key = deriveKey(strata.namespace, 'model:"chaos-suite"', `lost claim ${run}`);
      // The claim reaches Redis, but its reply is dropped and the connection closed: what a
      // lookup's claim meets when the link is cut mid-call (limit_data, reset_peer, a failover).
      const toxic = await proxy.addToxic({ type: 'timeout', attributes: { timeout: 100 } });
      await expect(strata.tier('redis')!.lease!.acquire(key, 15_000)).rejects.toThrow();
      await proxy.removeToxic(toxic);
      await expect.poll(async () => (await strata.health()).status, { timeout: 10_000 }).toBe('up');
      // Before: the lease this instance took looked like another instance's, so the lookup
      // waited for an answer nobody was computing, until the lease ran out (15 s).
      const started = performance.now();
      expect(await strata.lookup(key)).toBeUndefined();
      expect(performance.now() - started).toBeLessThan(BOUND_MS);
    } finally {
      await strata.close();
    }
  });

  it('a lookup whose read times out costs one timeout, not a second one for the claim', async () => {
    const { proxy, strata, run } = await openServingRedis();
    try {
      await proxy.addToxic({ type: 'latency', attributes: { latency: 600 } });
      const started = performance.now();
      const hit = await strata.lookup(deriveKey(strata.namespace, 'model:"chaos-suite"', `slow ${run}`));
      const ms = performance.now() - started;
      expect(hit).toBeUndefined();
      // Before: the read's timeout, then the claim's (distributed coalescing) on the same slow
      // link: two timeouts (about 400 ms) with the breaker still closed. Halfway between the two
      // leaves room for a loaded machine.
      expect(ms).toBeLessThan(TIMEOUT_MS * 1.5);
    } finally {
      await strata.close();
    }
  });
});
