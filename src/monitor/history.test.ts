import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { createCache } from '../langchain/create.js';
import { BUCKET_MS, dailyPoints, History, type SeriesPoint } from './history.js';
import { parseBucket } from './history-store.js';
import { createMonitor } from './index.js';
import { Insights, MAX_KEYS, OTHER } from './insights.js';

const MIN = 60_000;
const HOUR_MS = 60 * MIN;
const START = Date.UTC(2026, 10, 29, 12, 0, 0);

function sample(at: number, over: Partial<SeriesPoint> = {}): SeriesPoint {
  return {
    at,
    spanMs: 5_000,
    lookups: 10,
    hits: 6,
    hitRate: 0.6,
    tiers: {
      memory: { hits: 4, misses: 6, p50Ms: 0.01, p99Ms: 0.05 },
      sqlite: { hits: 2, misses: 4, p50Ms: 0.1, p99Ms: 0.4 },
    },
    savings: { 'gpt-4o': { tokens: 100, cost: 0.001 } },
    source: 'samples',
    ...over,
  };
}

describe('History: the dashboard series at four ranges', () => {
  it('keeps every sample for an hour and sums them into 5-minute and 1-hour buckets', () => {
    const h = new History(START);
    // Two hours of samples every 5 s; one slow sample (p99 9 ms) at 12:31.
    for (let t = START + 5_000; t <= START + 120 * MIN; t += 5_000) {
      h.add(
        sample(
          t,
          t === START + 31 * MIN ? { tiers: { memory: { hits: 4, misses: 6, p50Ms: 1, p99Ms: 9 } } } : {},
        ),
      );
    }
    const now = START + 120 * MIN;
    const last15 = h.range('15m', now);
    expect(last15.points).toHaveLength(180);
    expect(last15.from).toBe(now - 15 * MIN);
    expect(h.range('1h', now).points).toHaveLength(720);

    const day = h.range('24h', now);
    expect(day.points).toHaveLength(24); // 2 h of 5-minute buckets
    const bucket = day.points[6]!; // 12:30-12:35
    expect(bucket.at).toBe(START + 35 * MIN);
    expect(bucket.spanMs).toBe(5 * MIN);
    expect(bucket.lookups).toBe(600); // 60 samples of 10
    expect(bucket.hits).toBe(360);
    expect(bucket.hitRate).toBeCloseTo(0.6);
    expect(bucket.tiers.memory).toEqual({ hits: 240, misses: 360, p50Ms: 1, p99Ms: 9 }); // the worst sample
    expect(bucket.tiers.sqlite!.hits).toBe(118); // the slow sample had no sqlite entry
    expect(bucket.savings['gpt-4o']!.tokens).toBe(6_000);
    expect(day.points[5]!.tiers.memory!.p99Ms).toBe(0.05);

    // The bucket still filling ends in the future: it is drawn as of now, inside the axis.
    const midBucket = START + 117 * MIN;
    expect(h.range('24h', midBucket).points.at(-1)!.at).toBe(midBucket);
    expect(h.range('24h', midBucket).startedAt).toBe(START);
    const week = h.range('7d', now);
    expect(week.points.map((p) => p.spanMs)).toEqual([60 * MIN, 60 * MIN]);
    expect(week.points[0]!.lookups).toBe(7_200);
  });

  it('forgets samples older than an hour, buckets older than their range; a point is a copy', () => {
    const h = new History(START);
    h.add(sample(START + MIN));
    h.add(sample(START + 90 * MIN));
    const now = START + 90 * MIN;
    expect(h.range('1h', now).points.map((p) => p.at)).toEqual([START + 90 * MIN]);
    expect(h.range('24h', now).points).toHaveLength(2);
    const copy = h.range('15m', now).points[0]!;
    copy.tiers.memory!.hits = 999;
    copy.savings['gpt-4o']!.tokens = 999;
    expect(h.range('15m', now).points[0]!.tiers.memory!.hits).toBe(4);
    expect(h.range('15m', now).points[0]!.savings['gpt-4o']!.tokens).toBe(100);
  });

  it('fills 7 days with the persisted daily statistics for the days before the process started', () => {
    const started = Date.UTC(2026, 10, 29, 8, 0, 0);
    const h = new History(started);
    h.add(sample(started + 5_000));
    const daily = [
      { day: '2026-11-25', tier: 'sqlite', hits: 30, misses: 70, avgLatencyMs: 0.4 },
      { day: '2026-11-27', tier: 'sqlite', hits: 50, misses: 50, avgLatencyMs: 0.3 },
      { day: '2026-11-27', tier: 'mysql', hits: 10, misses: 40, avgLatencyMs: 1.5 },
      // Today: the live buckets cover it; a day from before the range is left out.
      { day: '2026-11-29', tier: 'sqlite', hits: 1, misses: 1, avgLatencyMs: 0.2 },
      { day: '2026-11-01', tier: 'sqlite', hits: 1, misses: 1, avgLatencyMs: 0.2 },
      { day: 'not a day', tier: 'sqlite', hits: 1, misses: 1, avgLatencyMs: 0.2 },
    ];
    const week = h.range('7d', started + MIN, daily);
    expect(week.points.map((p) => p.source)).toEqual(['daily', 'daily', 'samples']);
    const [first, second] = week.points;
    expect(first!.at).toBe(Date.UTC(2026, 10, 26));
    expect(first!.tiers).toEqual({ sqlite: { hits: 30, misses: 70, p50Ms: 0.4, p99Ms: 0.4 } });
    expect(second!.tiers.mysql).toEqual({ hits: 10, misses: 40, p50Ms: 1.5, p99Ms: 1.5 });
    // The cache-wide hit rate of such a day is not known (a memory tier persists nothing).
    expect(second!.hitRate).toBeNull();
    expect(second!.lookups).toBe(0);
    expect(h.range('24h', started + MIN, daily).points.every((p) => p.source === 'samples')).toBe(true);
  });

  it('gives a day with no lookups no latency', () => {
    expect(
      dailyPoints([{ day: '2026-11-28', tier: 'sqlite', hits: 0, misses: 0, avgLatencyMs: 0 }])[0]!.tiers
        .sqlite,
    ).toEqual({ hits: 0, misses: 0, p50Ms: null, p99Ms: null });
  });
});

describe('Insights: top namespaces and models, similarity, health since', () => {
  it('ranks by lookups with hit rate and savings, and bounds the names it keeps', () => {
    const i = new Insights(START);
    for (let n = 0; n < 10; n++) i.lookup('support', 'gpt-4o', n < 7, n < 7 ? 150 : 0, n < 7 ? 0.002 : 0);
    for (let n = 0; n < 4; n++) i.lookup('', 'claude', n === 0, n === 0 ? 80 : 0, 0);
    const top = i.report();
    expect(top.namespaces.map((r) => [r.name, r.lookups, r.hits])).toEqual([
      ['support', 10, 7],
      ['', 4, 1],
    ]);
    expect(top.namespaces[0]!.hitRate).toBeCloseTo(0.7);
    expect(top.namespaces[0]!.savedTokens).toBe(1_050);
    expect(top.namespaces[0]!.savedCost).toBeCloseTo(0.014);
    expect(top.models.map((r) => r.name)).toEqual(['gpt-4o', 'claude']);

    const many = new Insights(START);
    for (let n = 0; n < MAX_KEYS + 50; n++) many.lookup(`user-${n}`, 'm', false);
    const rows = many.report(MAX_KEYS + 10).namespaces;
    expect(rows).toHaveLength(MAX_KEYS);
    expect(rows.find((r) => r.name === OTHER)!.lookups).toBe(51);
  });

  it('bins similarities by 0.02 from 0.5, lower ones in the first bin, 1.0 in the last', () => {
    const i = new Insights(START);
    for (const s of [0.2, 0.5, 0.91, 0.919, 0.92, 0.999, 1]) i.similarHit('semantic', s);
    const [h] = i.report().similarity;
    expect(h!.tier).toBe('semantic');
    expect(h!.counts).toHaveLength(25);
    expect(h!.counts[0]).toBe(2);
    expect(h!.counts[20]).toBe(2); // 0.90-0.92
    expect(h!.counts[21]).toBe(1); // 0.92-0.94
    expect(h!.counts[24]).toBe(2);
    expect(h!.counts.reduce((a, b) => a + b, 0)).toBe(7);
  });

  it('moves a tier\'s "since" only when its status changes, and keeps the latest reason', () => {
    const i = new Insights(START);
    const report = (status: 'up' | 'down', reason?: string) => ({
      status,
      tiers: [
        { name: 'redis', type: 'redis', status, breaker: 'closed' as const, ...(reason ? { reason } : {}) },
      ],
    });
    i.observeHealth(report('up'), START + 1_000);
    expect(i.report().health[0]).toMatchObject({ status: 'up', since: START, sinceStart: true });
    i.observeHealth(report('down', 'ECONNREFUSED'), START + 5_000);
    i.observeHealth(report('down', 'timeout'), START + 9_000);
    expect(i.report().health[0]).toMatchObject({
      status: 'down',
      reason: 'timeout',
      since: START + 5_000,
      sinceStart: false,
    });
    i.observeHealth(report('up'), START + 12_000);
    expect(i.report().health[0]).toMatchObject({ status: 'up', since: START + 12_000 });
    expect(i.report().health[0]!.reason).toBeUndefined();
  });
});

describe('History kept across a restart (fleet mode)', () => {
  it('restores 5-minute buckets that ended before it began, into 24 h and 7 d', () => {
    const started = START + 60 * MIN;
    const h = new History(started);
    const bucket = (end: number, lookups: number) => ({
      ...sample(end, { lookups, hits: lookups / 2 }),
      spanMs: BUCKET_MS,
    });
    h.restore([bucket(START + 10 * MIN, 10), bucket(START + 5 * MIN, 20), bucket(started + 5 * MIN, 99)]);
    h.add(sample(started + 5_000));
    const day = h.range('24h', started + 10_000);
    expect(day.points.map((p) => [p.at, p.lookups])).toEqual([
      [START + 5 * MIN, 20],
      [START + 10 * MIN, 10],
      [started + 10_000, 10], // its own bucket, filling (drawn as of now); the restored one ending after its start is left out
    ]);
    expect(day.startedAt).toBe(START);
    expect(h.range('7d', started + 10_000).points[0]).toMatchObject({ at: START + HOUR_MS, lookups: 30 });
    // Restoring after the first sample would mix two histories: ignored.
    h.restore([bucket(START + 15 * MIN, 5)]);
    expect(h.range('24h', started + 10_000).points).toHaveLength(3);
  });

  it('reads back only well-formed buckets', () => {
    const good = { kind: 'strata-history', v: 1, point: sample(START, { spanMs: BUCKET_MS }) };
    expect(parseBucket(JSON.stringify(good))).toHaveLength(1);
    for (const bad of [
      'not json',
      JSON.stringify({ ...good, v: 2 }),
      JSON.stringify({ v: 1, process: 'p', cache: {}, tiers: [] }), // a counter snapshot
      JSON.stringify({ ...good, point: { ...good.point, lookups: -1 } }),
      JSON.stringify({ ...good, point: { ...good.point, tiers: { memory: { hits: 'x', misses: 0 } } } }),
      JSON.stringify({ ...good, point: { ...good.point, savings: [] } }),
    ])
      expect(parseBucket(bad), bad).toEqual([]);
  });

  it('a new monitor on the same SQLite file shows the buckets the last one closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-history-'));
    const clock = new ManualClock(Math.ceil(Date.now() / BUCKET_MS) * BUCKET_MS);
    const config = {
      tiers: [{ type: 'sqlite' as const, path: join(dir, 'cache.db') }],
      monitoring: { reportSeconds: 0 },
    };
    const cache = await createCache(config, { clock, logger: { warn: () => {} } });
    try {
      const first = createMonitor(cache, { prices: {}, sampleSeconds: 0.05 }, { fleet: true });
      await cache.update('q', 'model:"m"', [{ text: 'a' }]);
      // Eleven minutes of samples, a minute apart: two 5-minute buckets close.
      for (let minute = 0; minute < 11; minute++) {
        for (let i = 0; i < 3; i++) await cache.lookup(minute % 2 ? 'q' : `miss ${minute} ${i}`, 'model:"m"');
        const before = (await first.series('15m')).points.length;
        clock.advance(MIN);
        await expect.poll(async () => (await first.series('15m')).points.length).toBeGreaterThan(before);
      }
      first.close();
      const kept = (await first.series('24h')).points.filter((p) => p.at <= clock.now() - BUCKET_MS);
      expect(kept.length).toBeGreaterThanOrEqual(2);

      const second = createMonitor(cache, { prices: {}, sampleSeconds: 0.05 }, { fleet: true });
      try {
        await expect
          .poll(async () => (await second.series('24h')).points.length)
          .toBeGreaterThanOrEqual(kept.length);
        const restored = (await second.series('24h')).points.filter((p) => p.at <= clock.now() - BUCKET_MS);
        expect(restored.map((p) => [p.at, p.lookups, p.hits])).toEqual(
          kept.map((p) => [p.at, p.lookups, p.hits]),
        );
        expect((await second.series('24h')).startedAt).toBeLessThan(clock.now() - BUCKET_MS);
        // The buckets are not counted as processes by the fleet's sums.
        expect((await second.report({ byProcess: true })).processes?.length).toBe(0);
      } finally {
        second.close();
      }
    } finally {
      await cache.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
