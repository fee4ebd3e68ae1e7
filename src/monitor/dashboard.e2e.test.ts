import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AIMessage } from '@langchain/core/messages';
import type { ChatGeneration } from '@langchain/core/outputs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startFleetApp } from '../../test/support/fleet-apps.js';
import { chromiumPath, ROOT } from '../../test/support/services.js';
import { createCache } from '../create.js';
import { createMonitor } from './index.js';
import { startServer } from './server.js';

const LLM = 'model:"gpt-test"';
// At collection time, not inside the test: a fresh machine installs chromium here (minutes).
const executablePath = chromiumPath();

describe('dashboard (headless Chromium)', () => {
  it('shows per-tier numbers, charts and alerts, and updates them live', async () => {
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          { type: 'memory', maxEntries: 50 },
          { type: 'sqlite', path: ':memory:' },
        ],
      },
      { logger: { warn: () => {} } },
    );
    const monitor = createMonitor(cache, {
      prices: { 'gpt-test': { input: 2, output: 8 } },
      sampleSeconds: 0.3,
      alerts: {
        intervalSeconds: 0.3,
        forChecks: 1,
        clearChecks: 2,
        cooldownSeconds: 0,
        log: false,
        rules: [{ type: 'hit_rate_below', threshold: 0.99, windowSeconds: 1, minRequests: 5 }],
      },
    });
    const server = await startServer(cache, monitor, { host: '127.0.0.1', port: 0, token: 'dash-token' });
    let traffic = true;
    const drive = (async () => {
      for (let i = 0; traffic; i++) {
        // Skewed, as real traffic is: the memory tier keeps the popular questions.
        const prompt = `dashboard question ${Math.floor(80 * Math.random() ** 3)}`;
        if (!(await cache.lookup(prompt, LLM))) {
          const answer: ChatGeneration = {
            text: `answer ${i}`,
            message: new AIMessage({
              content: `answer ${i}`,
              usage_metadata: { input_tokens: 100, output_tokens: 50, total_tokens: 150 },
            }),
          };
          await cache.update(prompt, LLM, [answer]);
        }
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${server.url}/#token=dash-token`);
      const lookups = async () => Number((await page.textContent('#lookups'))!.replaceAll(',', ''));
      await expect.poll(lookups, { timeout: 15_000 }).toBeGreaterThan(0);
      const first = await lookups();
      await expect.poll(lookups, { timeout: 15_000 }).toBeGreaterThan(first); // live
      await expect.poll(() => page.locator('#tiers tbody tr').count(), { timeout: 10_000 }).toBe(2);
      expect(await page.textContent('#tiers tbody tr[data-tier="memory"]')).toMatch(/memory\s*closed/);
      // Both charts get lines with points once the series has a few samples.
      const pathLength = async (chart: string, series: string) =>
        ((await page.locator(`#${chart} path[data-series="${series}"]`).getAttribute('d')) ?? '').split('L')
          .length;
      await expect.poll(() => pathLength('hit-rate-chart', 'all'), { timeout: 15_000 }).toBeGreaterThan(3);
      await expect.poll(() => pathLength('latency-chart', 'memory'), { timeout: 15_000 }).toBeGreaterThan(3);
      await expect
        .poll(async () => Number((await page.textContent('#saved-tokens'))!.replaceAll(',', '')), {
          timeout: 10_000,
        })
        .toBeGreaterThan(0);
      expect(await page.textContent('#saved-cost')).toMatch(/^\$\d+\.\d{4}$/);
      // The hit-rate rule (threshold 99%) fires while the workload warms up.
      await expect
        .poll(() => page.textContent('#alerts-recent'), { timeout: 15_000 })
        .toMatch(/firing.*hit rate/s);
      expect(await page.textContent('#error')).toBe('');
      const dir = join(ROOT, 'test-artifacts');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });
    } finally {
      traffic = false;
      await drive;
      await browser.close();
      await server.close();
      monitor.close();
      await cache.close();
    }
  });

  it('shows the sum over every process sharing the cache (fleet counters)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-dash-fleet-'));
    const config = {
      tiers: [{ type: 'memory' as const }, { type: 'sqlite' as const, path: join(dir, 'cache.db') }],
      monitoring: { reportSeconds: 1 },
    };
    // Two application processes with known traffic: 30 hits + 10 misses, and 12 hits + 5 misses.
    const apps = await Promise.all([startFleetApp(config, 'a', 30, 10), startFleetApp(config, 'b', 12, 5)]);
    const cache = await createCache(config, { logger: { warn: () => {} } });
    const monitor = createMonitor(cache, { prices: {}, sampleSeconds: 1 }, { fleet: true });
    const server = await startServer(cache, monitor, { host: '127.0.0.1', port: 0 });
    const browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${server.url}/`);
      await expect.poll(() => page.textContent('#lookups'), { timeout: 15_000 }).toBe('57');
      expect(await page.textContent('#hit-rate')).toBe(`${((42 / 57) * 100).toFixed(1)}%`);
      expect(await page.textContent('#tiers tbody tr[data-tier="memory"]')).toMatch(
        /memory\s*closed\s*42\s*15/,
      );
      expect(await page.textContent('#scope')).toMatch(/^all [23] processes$/);
    } finally {
      await browser.close();
      await server.close();
      monitor.close();
      await cache.close();
      await Promise.all(apps.map((app) => app.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
