import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, createCluster } from '@redis/client';
import { afterAll, describe, expect, it } from 'vitest';
import { runTs } from '../../../test/support/run-ts.js';
import { ROOT, service } from '../../../test/support/services.js';
import { ManualClock } from '../../core/clock.js';
import { deriveKey } from '../../core/key.js';
import { createCache } from '../../langchain/create.js';
import { describeTierConformance } from '../../testing/conformance.js';
import { type RedisMode, RedisTier, type RedisTierOptions } from './index.js';

const standalone = service('redis');
const cluster = service('redis-cluster');
const sentinel = service('redis-sentinel');

const connection: Record<RedisMode, Partial<RedisTierOptions>> = {
  standalone: { url: standalone.STRATA_TEST_REDIS_URL },
  cluster: { nodes: cluster.STRATA_TEST_REDIS_CLUSTER_NODES!.split(',') },
  sentinel: {
    sentinels: sentinel.STRATA_TEST_REDIS_SENTINELS!.split(','),
    sentinelName: sentinel.STRATA_TEST_REDIS_SENTINEL_NAME,
  },
};

/** A raw client per mode, to reach under the tier (corrupting bytes, checking each master). */
const rawStandalone = createClient({ url: standalone.STRATA_TEST_REDIS_URL });
const rawCluster = createCluster({
  rootNodes: cluster.STRATA_TEST_REDIS_CLUSTER_NODES!.split(',').map((n) => ({ url: `redis://${n}` })),
});
await rawStandalone.connect();
await rawCluster.connect();
afterAll(async () => {
  await rawStandalone.close();
  await rawCluster.close();
});

function tier(mode: RedisMode, clock: ManualClock, extra: Partial<RedisTierOptions> = {}): RedisTier {
  return new RedisTier({
    mode,
    ...connection[mode],
    keyPrefix: `strata-test-${randomUUID().slice(0, 8)}`,
    connectTimeoutMs: 2_000,
    bus: false,
    clock,
    ...extra,
  });
}

for (const mode of ['standalone', 'cluster', 'sentinel'] as const) {
  describeTierConformance(`redis ${mode}`, async (clock) => {
    const t = tier(mode, clock);
    const prefix = (t as unknown as { options: RedisTierOptions }).options.keyPrefix;
    return {
      tier: t,
      corrupt: async (key, bytes) => {
        const raw = mode === 'cluster' ? rawCluster : rawStandalone;
        const k = `${prefix}:${key.namespace}:${key.hash}`;
        if (mode === 'sentinel') {
          await t.set(key, { payload: bytes, size: bytes.length, createdAt: 0, expiresAt: null, tags: [] });
        } else await raw.set(k, bytes);
      },
      // Redis keeps its own time: TTLs run on the server's clock.
      advance: async (ms) => {
        clock.advance(ms);
        await new Promise((r) => setTimeout(r, ms));
      },
      cleanup: async () => {
        // The suite has closed the tier by now; sweep its keys with a fresh one.
        const sweeper = tier(mode, clock, { keyPrefix: prefix });
        await sweeper.clear();
        await sweeper.close();
      },
    };
  });
}

describe('redis cluster', () => {
  it('spreads one namespace over every master, and clear(namespace) removes all of it and nothing else', async () => {
    const clock = new ManualClock(Date.now());
    const t = tier('cluster', clock);
    const prefix = (t as unknown as { options: RedisTierOptions }).options.keyPrefix;
    const write = (ns: string, i: number) =>
      t.set(deriveKey(ns, 'llm', `prompt ${i}`), {
        payload: `{"i":${i}}`,
        size: 8,
        createdAt: 0,
        expiresAt: null,
        tags: ['spread'],
      });
    // node-redis connects in the background; wait until it serves.
    await expect.poll(async () => (await t.health()).status, { timeout: 10_000 }).toBe('up');
    for (let i = 0; i < 60; i++) {
      await write('tenant-a', i);
      await write('tenant-b', i);
    }
    const perMaster = async (ns: string) =>
      Promise.all(
        rawCluster.masters.map(async (m) => {
          const node = await rawCluster.nodeClient(m);
          let n = 0;
          for await (const keys of node.scanIterator({ MATCH: `${prefix}:${ns}:*`, COUNT: 1000 })) {
            n += keys.filter((k) => /:[0-9a-f]{64}$/.test(k)).length;
          }
          return n;
        }),
      );
    const before = await perMaster('tenant-a');
    expect(before).toHaveLength(3);
    for (const n of before) expect(n).toBeGreaterThan(0);
    expect(before.reduce((a, b) => a + b, 0)).toBe(60);
    expect(await t.clear('tenant-a')).toBe(60);
    expect(await perMaster('tenant-a')).toEqual([0, 0, 0]);
    expect((await perMaster('tenant-b')).reduce((a, b) => a + b, 0)).toBe(60);
    expect(await t.invalidateTag('spread')).toBe(60);
    expect((await perMaster('tenant-b')).reduce((a, b) => a + b, 0)).toBe(0);
    await t.close();
  });
});

describe('redis through StrataCache', () => {
  it('health asked right after opening waits for the first connection (strata export asks at once)', async () => {
    const cache = await createCache(
      { tiers: [{ type: 'redis', url: standalone.STRATA_TEST_REDIS_URL!, keyPrefix: 'strata-test-health' }] },
      { logger: { warn: () => {} } },
    );
    try {
      expect((await cache.health()).tiers[0]).toMatchObject({ status: 'up' });
    } finally {
      await cache.close();
    }
  });

  // Recovery after a restart is tested in failover.int.test.ts; this is the server that was never there.
  it('does not fail createCache for an unreachable server: calls miss promptly and health says down', async () => {
    const cache = await createCache(
      {
        tiers: [{ type: 'redis', url: 'redis://127.0.0.1:1', timeoutMs: 200, keyPrefix: 'strata-test-down' }],
      },
      { logger: { warn: () => {} } },
    );
    const started = performance.now();
    expect(await cache.lookup('p', 'llm')).toBeNull();
    await cache.update('p', 'llm', [{ text: 'x' }]);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect((await cache.health()).tiers[0]?.status).toBe('down');
    await cache.close();
  });
});

describe('redis options', () => {
  const redisTier = (mode: RedisMode, keyPrefix: string) => ({
    type: 'redis' as const,
    mode,
    keyPrefix,
    ...(mode === 'standalone' ? { url: connection.standalone.url } : {}),
    ...(mode === 'cluster' ? { nodes: connection.cluster.nodes } : {}),
    ...(mode === 'sentinel'
      ? { sentinels: connection.sentinel.sentinels, sentinelName: connection.sentinel.sentinelName }
      : {}),
  });

  for (const mode of ['standalone', 'cluster', 'sentinel'] as const) {
    it(`${mode}: the bus drops another instance's memory copy on invalidateTag, delete and overwrite`, async () => {
      const keyPrefix = `strata-test-${randomUUID().slice(0, 8)}`;
      const config = { tiers: [{ type: 'memory' as const }, redisTier(mode, keyPrefix)] };
      const a = await createCache(config, { logger: { warn: () => {} } });
      const b = await createCache(config, { logger: { warn: () => {} } });
      try {
        await expect.poll(async () => (await b.health()).status, { timeout: 15_000 }).toBe('up');
        await new Promise((r) => setTimeout(r, 300)); // let both subscribers attach
        await a.withOptions({ tags: ['t'] }).update('q1', 'llm', [{ text: 'one' }]);
        await a.update('q2', 'llm', [{ text: 'two' }]);
        await a.update('q3', 'llm', [{ text: 'three' }]);
        expect((await b.lookupWithInfo('q3', 'llm'))?.tier).toBe('redis');
        expect((await b.lookupWithInfo('q3', 'llm'))?.tier).toBe('memory');
        expect((await b.lookupWithInfo('q1', 'llm'))?.tier).toBe('redis');
        expect((await b.lookupWithInfo('q1', 'llm'))?.tier).toBe('memory');
        expect((await b.lookupWithInfo('q2', 'llm'))?.tier).toBe('redis');
        await a.invalidateTag('t');
        await a.delete('q3', 'llm');
        await a.update('q2', 'llm', [{ text: 'two, revised' }]);
        await expect.poll(async () => b.lookupWithInfo('q3', 'llm'), { timeout: 2_000 }).toBeNull();
        await expect.poll(async () => b.lookupWithInfo('q1', 'llm'), { timeout: 2_000 }).toBeNull();
        await expect
          .poll(async () => (await b.lookup('q2', 'llm'))?.[0]?.text, { timeout: 2_000 })
          .toBe('two, revised');
      } finally {
        await a.clear({ all: true });
        await a.close();
        await b.close();
      }
    });
  }

  it('authenticates with an ACL user and password', async () => {
    const user = `strata-${randomUUID().slice(0, 6)}`;
    await rawStandalone.sendCommand(['ACL', 'SETUSER', user, 'on', '>s3cret-pass', '~*', '&*', '+@all']);
    try {
      const ok = await createCache(
        {
          tiers: [{ ...redisTier('standalone', 'strata-test-acl'), username: user, password: 's3cret-pass' }],
        },
        { logger: { warn: () => {} } },
      );
      await ok.update('p', 'llm', [{ text: 'authenticated' }]);
      expect((await ok.lookup('p', 'llm'))?.[0]?.text).toBe('authenticated');
      await ok.clear({ all: true });
      await ok.close();
      const denied = await createCache(
        {
          tiers: [
            {
              ...redisTier('standalone', 'strata-test-acl'),
              username: user,
              password: 'wrong',
              timeoutMs: 300,
            },
          ],
        },
        { logger: { warn: () => {} } },
      );
      expect(await denied.lookup('p', 'llm')).toBeNull();
      expect((await denied.health()).tiers[0]?.status).toBe('down');
      await denied.close();
    } finally {
      await rawStandalone.sendCommand(['ACL', 'DELUSER', user]);
    }
  });

  it('uses a client passed in programmatically and leaves it open', async () => {
    const client = createClient({ url: connection.standalone.url });
    await client.connect();
    const cache = await createCache({ tiers: [{ type: 'redis', client, keyPrefix: 'strata-test-own' }] });
    await cache.update('p', 'llm', [{ text: 'via my client' }]);
    expect((await cache.lookup('p', 'llm'))?.[0]?.text).toBe('via my client');
    await cache.clear({ all: true });
    await cache.close();
    expect(await client.ping()).toBe('PONG');
    await client.close();
  });
});

describe('redis tier closed while it is still connecting', () => {
  it('leaves no socket open: a CLI command over a Redis config exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-redis-cli-'));
    try {
      const config = join(dir, 'strata.config.json');
      writeFileSync(
        config,
        JSON.stringify({
          tiers: [
            { type: 'memory' },
            {
              type: 'redis',
              url: standalone.STRATA_TEST_REDIS_URL,
              keyPrefix: `strata-test-${randomUUID().slice(0, 8)}`,
            },
          ],
        }),
      );
      // Before: the export ended, closed the tier mid-connect, and the sockets opened afterwards
      // kept the process alive until the test's timeout killed it.
      const { stderr } = await runTs(
        join(ROOT, 'src', 'cli', 'main.ts'),
        ['export', '--config', config, '--tier', 'memory'],
        {
          timeout: 20_000,
        },
      );
      expect(stderr).toMatch(/exported from memory: 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
