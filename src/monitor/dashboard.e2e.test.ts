/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AIMessage } from '@langchain/core/messages';
import type { ChatGeneration } from '@langchain/core/outputs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startFleetApp } from '../../test/support/fleet-apps.js';
import { chromiumPath, ROOT } from '../../test/support/services.js';
import { createCache } from '../langchain/create.js';
import { createMonitor } from './index.js';
import { startServer } from './server.js';

const LLM = 'model:"gpt-test"';
const CLAUDE = 'model:"claude-test"';
/**
 * The README's screenshots are written only when asked (`STRATA_SCREENSHOTS=docs npm test`, or
 * another folder): a test run leaves the working tree as it found it. Otherwise the same three
 * views are taken in memory, so the narrow and dark checks run either way.
 */
const SHOTS = process.env.STRATA_SCREENSHOTS ? join(ROOT, process.env.STRATA_SCREENSHOTS) : undefined;
const shot = (name: string) => (SHOTS ? { path: join(SHOTS, name), fullPage: true } : { fullPage: true });
// At collection time, not inside the test: a fresh machine installs chromium here (minutes).
const executablePath = chromiumPath();

describe('dashboard (headless Chromium)', () => {
  it('charts with axes, one colour per tier, a hover read-out, time ranges, panels; screenshots wide, narrow and dark', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-dash-'));
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          { type: 'memory', maxEntries: 50 },
          { type: 'sqlite', path: join(dir, 'cache.db') },
          { type: 'semantic', embeddings: 'lexical', path: join(dir, 'semantic.db'), threshold: 0.5 },
        ],
      },
      { logger: { warn: () => {} } },
    );
    const monitor = createMonitor(cache, {
      prices: { 'gpt-test': { input: 2, output: 8 }, 'claude-test': { input: 3, output: 15 } },
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
    const server = await startServer(cache, monitor, { host: '127.0.0.1', port: 0, token: 'dash+tok/en' });
    const support = cache.withNamespace('support');
    let traffic = true;
    const drive = (async () => {
      for (let i = 0; traffic; i++) {
        // Skewed, as real traffic is: the memory tier keeps the popular questions. Two models,
        // two namespaces, and paraphrases the semantic tier answers.
        const view = i % 3 === 0 ? support : cache;
        const llm = i % 4 === 0 ? CLAUDE : LLM;
        // The second model asks fewer, more repeated questions: fewer lookups, a higher hit rate.
        const n = llm === CLAUDE ? Math.floor(5 * Math.random()) : Math.floor(80 * Math.random() ** 3);
        const prompt =
          i % 7 === 0 ? `how can I reset password number ${n} please` : `how do I reset password number ${n}`;
        if (!(await view.lookup(prompt, llm))) {
          const answer: ChatGeneration = {
            text: `answer ${i}`,
            message: new AIMessage({
              content: `answer ${i}`,
              usage_metadata: { input_tokens: 100, output_tokens: 50, total_tokens: 150 },
            }),
          };
          await view.update(prompt, llm, [answer]);
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
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      // A token with + and /, as base64 tokens have: the page must not read + as a space.
      await page.goto(`${server.url}/#token=dash+tok/en`);
      const lookups = async () => Number((await page.textContent('#lookups'))!.replaceAll(',', ''));
      await expect.poll(lookups, { timeout: 15_000 }).toBeGreaterThan(0);
      const first = await lookups();
      await expect.poll(lookups, { timeout: 15_000 }).toBeGreaterThan(first); // live
      // The stale-if-error card: nothing here fails, so no stale answers.
      expect(await page.textContent('#stale')).toBe('0');
      await expect.poll(() => page.locator('#tiers tbody tr').count(), { timeout: 10_000 }).toBe(3);
      expect(await page.textContent('#tiers tbody tr[data-tier="memory"]')).toMatch(/memory\s*up\s*start/);

      // Lines with points in every chart once the series has a few samples.
      const points = async (chart: string, series: string) =>
        ((await page.locator(`#${chart} path[data-series="${series}"]`).getAttribute('d')) ?? '').split('L')
          .length;
      await expect.poll(() => points('hit-rate-chart', 'all'), { timeout: 15_000 }).toBeGreaterThan(3);
      await expect.poll(() => points('latency-chart', 'memory'), { timeout: 15_000 }).toBeGreaterThan(3);
      await expect.poll(() => points('savings-chart', 'gpt-test'), { timeout: 15_000 }).toBeGreaterThan(3);

      // Each chart has both axis titles, with units, and tick labels on both axes.
      for (const [chart, yTitle] of [
        ['hit-rate-chart', 'hit rate (%)'],
        ['latency-chart', 'p99 latency (ms, log scale)'],
        ['savings-chart', 'tokens saved per 0.3 s'],
      ] as const) {
        expect(await page.textContent(`#${chart} .y-title`)).toBe(yTitle);
        // The monitor is younger than the range: the axis starts at its first point, and says so.
        expect(await page.textContent(`#${chart} .x-title`)).toBe('time (local), since the history began');
        expect(await page.locator(`#${chart} .y-tick`).count()).toBeGreaterThan(1);
        const xTicks = await page.locator(`#${chart} .x-tick`).allTextContents();
        expect(xTicks.length).toBeGreaterThan(1);
        for (const tick of xTicks) expect(tick).toMatch(/^\d\d:\d\d:\d\d$/);
      }
      // The hit-rate axis is in percent, up to 100; the latency axis in decades (log scale).
      expect(await page.locator('#hit-rate-chart .y-tick').allTextContents()).toContain('100');
      const decades = (await page.locator('#latency-chart .y-tick').allTextContents()).map(Number);
      for (let i = 1; i < decades.length; i++) expect(decades[i]! / decades[i - 1]!).toBeCloseTo(10);

      // One colour per tier, in every chart, legend, the health table and the semantic panel.
      const colours = async (tier: string) =>
        page.evaluate((name) => {
          const css = (el: Element | null, prop: 'stroke' | 'backgroundColor' | 'fill') =>
            el ? getComputedStyle(el)[prop] : 'missing';
          return {
            hitRate: css(document.querySelector(`#hit-rate-chart path[data-series="${name}"]`), 'stroke'),
            latency: css(document.querySelector(`#latency-chart path[data-series="${name}"]`), 'stroke'),
            hitLegend: css(
              document.querySelector(`#hit-rate-legend [data-series="${name}"] .sw`),
              'backgroundColor',
            ),
            latencyLegend: css(
              document.querySelector(`#latency-legend [data-series="${name}"] .sw`),
              'backgroundColor',
            ),
            health: css(document.querySelector(`#tiers tr[data-tier="${name}"] .sw`), 'backgroundColor'),
          };
        }, tier);
      const seen = new Set<string>();
      for (const tier of ['memory', 'sqlite', 'semantic']) {
        const c = await colours(tier);
        expect(new Set(Object.values(c)).size, JSON.stringify(c)).toBe(1);
        expect(c.hitRate).toMatch(/^rgb/);
        seen.add(c.hitRate);
      }
      expect(seen.size).toBe(3); // and tiers do not share one
      await expect
        .poll(() => page.locator('#semantic .histogram rect').count(), { timeout: 15_000 })
        .toBeGreaterThan(0);
      const bar = await page.evaluate(
        () => getComputedStyle(document.querySelector('#semantic .histogram rect')!).fill,
      );
      expect(bar).toBe((await colours('semantic')).hitRate);
      expect(await page.textContent('#semantic .histogram .x-title')).toMatch(/similarity/);

      // Hover a point: the read-out shows the exact value the API has for that time.
      const box = (await page.locator('#hit-rate-chart').boundingBox())!;
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
      const tip = page.locator('#hit-rate-chart ~ .tip');
      await expect.poll(() => tip.isVisible()).toBe(true);
      const readOut = (await tip.locator('[data-series="all"] b').textContent())!;
      const at = Number(await tip.getAttribute('data-at'));
      const expected = await page.evaluate(async (when) => {
        const series: { points: Array<{ at: number; hitRate: number | null }> } = await fetch(
          '/api/series?range=15m',
          { headers: { authorization: 'Bearer dash+tok/en' } },
        ).then((r) => r.json());
        const p = series.points.find((q) => q.at === when);
        return p ? (p.hitRate === null ? 'no data' : `${(p.hitRate * 100).toFixed(1)}%`) : 'point gone';
      }, at);
      expect(readOut).toBe(expected);
      // The keyboard moves the same read-out.
      await page.focus('#latency-chart');
      await page.keyboard.press('End');
      await expect.poll(() => page.locator('#latency-chart ~ .tip').isVisible()).toBe(true);
      expect(await page.textContent('#latency-chart ~ .tip [data-series="memory"]')).toMatch(
        /memory: [\d.]+ ms/,
      );
      await page.keyboard.press('Escape');
      await page.mouse.move(0, 0);

      // Savings per model, top namespaces and models.
      await expect.poll(() => page.textContent('#savings-legend')).toMatch(/claude-test.*gpt-test/s);
      await expect.poll(() => page.textContent('#namespaces tbody')).toMatch(/support/);
      expect(await page.textContent('#models tbody')).toMatch(/gpt-test[\s\S]*claude-test/);
      // Ranked by another column at a click (and by keyboard: the headers are buttons).
      const column = async (table: string, n: number) =>
        (await page.locator(`#${table} tbody tr td:nth-child(${n})`).allTextContents()).map((t) =>
          Number.parseFloat(t.replace(/[$,%]/g, '')),
        );
      for (const [key, n, first] of [
        ['hitRate', 3, 'claude-test'],
        ['lookups', 2, 'gpt-test'],
      ] as const) {
        await page.click(`#models button[data-sort="${key}"]`);
        const th = `#models th:has(button[data-sort="${key}"])`;
        expect(await page.getAttribute(th, 'aria-sort')).toBe('descending');
        const values = await column('models', n);
        expect(values.length).toBe(2);
        expect(values[0]).toBeGreaterThan(values[1]!);
        expect(await page.textContent('#models tbody tr:first-child td:first-child')).toBe(first);
      }
      expect(await page.textContent('#saved-day')).toMatch(/^[\d,]+ tok · \$\d+\.\d{4}$/);
      // The monitor is minutes old: the 24-hour figure says what it covers, and the 7-day one,
      // which would repeat it, is hidden.
      expect(await page.textContent('#saved-day-label')).toMatch(
        /^saved since the history began \(\d+ s ago\)$/,
      );
      expect(await page.isVisible('#saved-week')).toBe(false);

      // The hit-rate rule (threshold 99%) fires while the workload warms up.
      await expect
        .poll(() => page.textContent('#alerts-recent'), { timeout: 15_000 })
        .toMatch(/firing.*hit rate/s);

      // Another range: asked of the API, and drawn from its 5-minute buckets (one or two so far,
      // against dozens of samples in 15 min); 7 days from hour buckets.
      const asked = page.waitForRequest(/\/api\/series\?range=24h/);
      await page.click('.ranges button[data-range="24h"]');
      await asked;
      expect(await page.getAttribute('.ranges button[data-range="24h"]', 'aria-pressed')).toBe('true');
      expect(await page.getAttribute('.ranges button[data-range="15m"]', 'aria-pressed')).toBe('false');
      await expect.poll(() => page.getAttribute('#hit-rate-chart', 'data-range')).toBe('24h');
      expect(await points('hit-rate-chart', 'all')).toBeLessThanOrEqual(2);
      // Every point inside the plot: the bucket still filling is drawn as of now.
      const inside = await page.evaluate(() => {
        const svg = document.querySelector('#hit-rate-chart')!;
        const right = Number(svg.getAttribute('viewBox')!.split(' ')[2]) - 14;
        const xs = Array.from(svg.querySelectorAll('path[data-series], circle[data-series]')).flatMap((el) =>
          el.tagName === 'circle'
            ? [Number(el.getAttribute('cx'))]
            : [...(el.getAttribute('d') ?? '').matchAll(/[ML]([\d.]+)/g)].map((m) => Number(m[1])),
        );
        return { xs, right };
      });
      expect(inside.xs.length).toBeGreaterThan(0);
      for (const x of inside.xs) expect(x).toBeLessThanOrEqual(inside.right + 0.1);
      expect(await page.textContent('#savings-chart .y-title')).toBe('tokens saved per 5 min');
      await page.click('.ranges button[data-range="7d"]');
      await expect.poll(() => page.getAttribute('#hit-rate-chart', 'data-range')).toBe('7d');
      expect(await page.textContent('#savings-chart .y-title')).toBe('tokens saved per 1 h');
      await page.keyboard.press('Shift+Tab'); // the range buttons are reachable by keyboard
      await page.keyboard.press('Enter');
      await expect.poll(() => page.getAttribute('#hit-rate-chart', 'data-range')).toBe('24h');
      await page.click('.ranges button[data-range="15m"]');
      await expect.poll(() => page.getAttribute('#hit-rate-chart', 'data-range')).toBe('15m');
      await expect.poll(() => points('hit-rate-chart', 'all')).toBeGreaterThan(3);
      expect(await page.textContent('#error')).toBe('');
      expect(errors).toEqual([]);

      // Screenshots for the README: wide, narrow, dark.
      if (SHOTS) mkdirSync(SHOTS, { recursive: true });
      await page.screenshot(shot('dashboard.png'));
      await page.setViewportSize({ width: 420, height: 900 });
      await page.waitForTimeout(2_500);
      // Narrow: one column, nothing wider than the window.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
      await page.screenshot(shot('dashboard-narrow.png'));
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.waitForTimeout(2_500);
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe(
        'rgb(15, 20, 26)',
      );
      await page.screenshot(shot('dashboard-dark.png'));
    } finally {
      traffic = false;
      await drive;
      await browser.close();
      await server.close();
      monitor.close();
      await cache.close();
      rmSync(dir, { recursive: true, force: true });
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
        /memory\s*up\s*start \(\d+ s\)\s*42\s*15/,
      );
      expect(await page.textContent('#scope')).toMatch(/^all [23] processes$/);
      // Models from the fleet's savings (42 hits of gpt-4o-mini); the per-process panels say so.
      await expect.poll(() => page.textContent('#models tbody')).toMatch(/gpt-4o-mini\s*-\s*42 hits/);
      expect(await page.locator('section .note:visible').count()).toBe(3);
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
