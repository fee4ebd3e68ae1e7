/**
 * Redis failures and fleets, against real servers: a Sentinel failover, a stopped server, and
 * several processes sharing one Redis (L1 invalidation over the bus, distributed coalescing).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from '@redis/client';
import { describe, expect, it } from 'vitest';
import { runTs } from '../../../test/support/run-ts.js';
import { service, servicePid, services } from '../../../test/support/services.js';
import { createCache } from '../../langchain/create.js';
import { SimulatedChatModel } from '../../langchain/simulated-model.js';
import { withCache } from '../../langchain/with-cache.js';

const quiet = { warn: () => {} };
const prefix = () => `strata-test-${randomUUID().slice(0, 8)}`;
const peerScript = join(import.meta.dirname, '../../../test/support/redis-peer.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('redis failures', () => {
  it('sentinel: a master killed mid-loop costs misses, never an exception, and hits resume after promotion', async () => {
    const env = service('redis-sentinel');
    const name = env.STRATA_TEST_REDIS_SENTINEL_NAME!;
    const [sentinelHost, sentinelPort] = env.STRATA_TEST_REDIS_SENTINELS!.split(',')[0]!.split(':');
    const sentinel = createClient({ url: `redis://${sentinelHost}:${sentinelPort}` });
    await sentinel.connect();
    const masterAddr = async () =>
      ((await sentinel.sendCommand(['SENTINEL', 'get-master-addr-by-name', name])) as string[])[1];
    const originalPort = await masterAddr();
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          {
            type: 'redis',
            mode: 'sentinel',
            sentinels: env.STRATA_TEST_REDIS_SENTINELS!.split(','),
            sentinelName: name,
            keyPrefix: prefix(),
            timeoutMs: 300,
            breaker: { failureThreshold: 3, cooldownMs: 200, maxCooldownMs: 1_000 },
          },
        ],
      },
      { logger: quiet },
    );
    await expect.poll(async () => (await cache.health()).status, { timeout: 10_000 }).toBe('up');
    const masterProcess = originalPort === '16380' ? 'master' : 'replica';
    let killedAt = 0;
    let promotedAt = 0;
    let firstHitAfterPromotion = 0;
    let sawUnhealthy = false;
    let hitsBefore = 0;
    let watcher: Promise<void> | undefined;
    try {
      for (let i = 0; i < 2_000; i++) {
        if (i === 300) {
          process.kill(servicePid('redis-sentinel', masterProcess), 'SIGKILL');
          killedAt = Date.now();
          watcher = (async () => {
            while (!promotedAt && Date.now() - killedAt < 30_000) {
              if ((await masterAddr()) !== originalPort) promotedAt = Date.now();
              else await sleep(50);
            }
          })();
        }
        const prompt = `question ${i % 40}`;
        const hit = await cache.lookup(prompt, 'llm'); // must never throw
        if (!hit) await cache.update(prompt, 'llm', [{ text: `answer ${i % 40}` }]);
        else if (!killedAt) hitsBefore++;
        if (killedAt) {
          if (i % 10 === 0 && (await cache.health()).status !== 'up') sawUnhealthy = true;
          if (promotedAt && hit && !firstHitAfterPromotion) firstHitAfterPromotion = Date.now();
          if (!firstHitAfterPromotion) await sleep(10);
        }
      }
      await watcher;
    } finally {
      await cache.close();
      await sentinel.close();
      services('start', 'redis-sentinel'); // the killed node comes back as a replica
    }
    expect(hitsBefore).toBeGreaterThan(200);
    expect(promotedAt).toBeGreaterThan(0);
    expect(sawUnhealthy).toBe(true);
    expect(firstHitAfterPromotion).toBeGreaterThan(0);
    expect(firstHitAfterPromotion - promotedAt).toBeLessThan(10_000);
  });

  it('standalone stopped: lookups miss within timeoutMs, LLM calls go on, and the tier serves again after a restart', async () => {
    const url = service('redis').STRATA_TEST_REDIS_URL!;
    const timeoutMs = 250;
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          {
            type: 'redis',
            url,
            keyPrefix: prefix(),
            timeoutMs,
            breaker: { cooldownMs: 200, maxCooldownMs: 500 },
          },
        ],
      },
      { logger: quiet },
    );
    const model = new SimulatedChatModel({ cache });
    try {
      await model.invoke('before the outage');
      await model.invoke('before the outage');
      expect(model.calls).toBe(1);
      services('stop', 'redis');
      let slowest = 0;
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        expect(await cache.lookup(`during ${i}`, 'llm')).toBeNull();
        slowest = Math.max(slowest, performance.now() - started);
      }
      expect(slowest).toBeLessThan(timeoutMs + 250);
      await model.invoke('during the outage');
      await model.invoke('during the outage');
      expect(model.calls).toBe(3);
      expect((await cache.health()).status).not.toBe('up');
      services('start', 'redis');
      await expect
        .poll(
          async () => {
            await cache.update('after', 'llm', [{ text: 'back' }]);
            return (await cache.lookup('after', 'llm'))?.[0]?.text;
          },
          { timeout: 15_000, interval: 200 },
        )
        .toBe('back');
    } finally {
      await cache.close();
      services('start', 'redis');
    }
  });
});

describe('redis bus reconnects', () => {
  it('flushes the memory tier after the subscriber reconnects (messages sent meanwhile are lost)', async () => {
    const url = service('redis').STRATA_TEST_REDIS_URL!;
    const cache = await createCache(
      {
        tiers: [
          { type: 'memory' },
          { type: 'redis', url, keyPrefix: prefix(), breaker: { cooldownMs: 200 } },
        ],
      },
      { logger: quiet },
    );
    try {
      await cache.update('kept in memory', 'llm', [{ text: 'x' }]);
      const memoryEntries = async () => (await cache.stats()).tiers[0]?.store?.entries;
      expect(await memoryEntries()).toBe(1);
      services('stop', 'redis');
      await sleep(300);
      expect(await memoryEntries()).toBe(1); // still serving from memory while Redis is away
      services('start', 'redis');
      await expect.poll(memoryEntries, { timeout: 15_000, interval: 100 }).toBe(0);
    } finally {
      await cache.close();
      services('start', 'redis');
    }
  });
});

describe('redis shared by several processes', () => {
  it('invalidateTag in one process stops the other serving the entry from its memory tier within 100 ms', async () => {
    const url = service('redis').STRATA_TEST_REDIS_URL!;
    const keyPrefix = prefix();
    const cache = await createCache(
      { tiers: [{ type: 'memory' }, { type: 'redis', url, keyPrefix }] },
      { logger: quiet },
    );
    await cache
      .withOptions({ tags: ['pricing'] })
      .update('What does plan A cost?', 'model:"peer"', [{ text: '$10' }]);
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const peer = spawn(process.execPath, ['--import', tsx, peerScript, 'l1', url, keyPrefix], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    const exited = new Promise((r) => peer.on('exit', r));
    peer.stdout
      .setEncoding('utf8')
      .on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));
    try {
      await expect.poll(() => lines.includes('ready'), { timeout: 20_000 }).toBe(true);
      await sleep(200); // the peer is now serving from its memory tier in a tight loop
      const invalidatedAt = Date.now();
      expect(await cache.invalidateTag('pricing')).toBeGreaterThan(0);
      await expect.poll(() => lines.find((l) => l.startsWith('gone ')), { timeout: 5_000 }).toBeDefined();
      const goneAt = Number(lines.find((l) => l.startsWith('gone '))!.split(' ')[1]);
      expect(goneAt - invalidatedAt).toBeLessThan(100);
    } finally {
      peer.kill();
      await exited;
      await cache.close();
    }
  });

  it('four processes missing the same key at once make one LLM call in total', async () => {
    const url = service('redis').STRATA_TEST_REDIS_URL!;
    const keyPrefix = prefix();
    const at = String(Date.now() + 4_000); // after every process has started and connected
    const results = await Promise.all(
      [0, 1, 2, 3].map(() => runTs(peerScript, ['herd', url, keyPrefix, at])),
    );
    const outputs = results.map((r) => JSON.parse(r.stdout.trim()) as { calls: number; content: string });
    expect(outputs.reduce((n, o) => n + o.calls, 0)).toBe(1);
    expect(new Set(outputs.map((o) => o.content)).size).toBe(1);
  });

  it('an instance whose model call fails releases its claim: another process waiting for the key goes at once', async () => {
    const url = service('redis').STRATA_TEST_REDIS_URL!;
    const keyPrefix = prefix();
    const cache = await createCache({ tiers: [{ type: 'memory' }, { type: 'redis', url, keyPrefix }] });
    try {
      const at = Date.now() + 4_000; // the peer asks while this instance's call is in flight
      const peer = runTs(peerScript, ['late', url, keyPrefix, String(at)]);
      const failing = new SimulatedChatModel({ latencyMs: 600, failWith: '429 Too Many Requests' });
      await new Promise((r) => setTimeout(r, Math.max(0, at - 300 - Date.now())));
      await expect(
        withCache(failing, cache).invoke('The question another instance failed to answer'),
      ).rejects.toThrow(/429/);
      const failedAt = Date.now();
      const out = JSON.parse((await peer).stdout.trim()) as { calls: number; answeredAt: number };
      expect(out.calls).toBe(1);
      // Before: the peer waited for the claim to run out (coalesceWaitMs, 15 s).
      expect(out.answeredAt - failedAt).toBeLessThan(1_000);
    } finally {
      await cache.close();
    }
  });
});
