/**
 * The fleet's namespaces and semantic panels (core/fleet-usage.ts): each process's bounded top
 * namespaces plus `other`, merged so that nothing is counted twice or lost; the error bound and
 * similarity merged over processes; old and crafted rows; and two engines on one SQLite file
 * (distinct process ids) seen through `strata serve`'s API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LabelledTier, namespaceBound } from '../../test/support/labelled-tier.js';
import { DEFAULT_BREAKER } from '../core/breaker.js';
import { systemClock } from '../core/clock.js';
import { type CountersSnapshot, FleetReporter, fleetReport, parseRows } from '../core/fleet.js';
import {
  FLEET_TOP_NAMESPACES,
  FleetUsage,
  mergeNamespaces,
  mergeSemantic,
  type NamespacesSnapshot,
  OTHER,
  type SemanticSnapshot,
  TRACKED_NAMESPACES,
} from '../core/fleet-usage.js';
import { deriveKey } from '../core/key.js';
import { Manager } from '../core/manager.js';
import { SqliteTier } from '../tiers/sqlite/index.js';
import { createMonitor } from './index.js';
import { Savings } from './savings.js';
import { startServer } from './server.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-fleet-usage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A process's namespace part from `lookups` per namespace (each lookup a miss). */
function reported(lookups: Record<string, number>): NamespacesSnapshot {
  const usage = new FleetUsage();
  for (const [ns, n] of Object.entries(lookups)) for (let i = 0; i < n; i++) usage.lookup(ns, false);
  return usage.namespaces();
}

const total = (m: ReturnType<typeof mergeNamespaces>) =>
  m.rows.reduce((n, r) => n + r.lookups, 0) + m.other.lookups;

describe('a process reports its top namespaces and the rest as other', () => {
  it(`names the ${FLEET_TOP_NAMESPACES} with the most lookups; other sums the rest; tokens per model`, () => {
    const usage = new FleetUsage();
    for (let i = 0; i < 30; i++) for (let n = 0; n <= i; n++) usage.lookup(`user-${i}`, false);
    usage.lookup('user-29', true, 'gpt-4o-mini', 100, 50);
    usage.lookup('user-0', true, 'gpt-4o', 10, 5);
    const { top, other } = usage.namespaces();
    expect(top).toHaveLength(FLEET_TOP_NAMESPACES);
    expect(top[0]).toEqual({ name: 'user-29', lookups: 31, hits: 1, tokens: [['gpt-4o-mini', 100, 50]] });
    expect(top.at(-1)!.name).toBe('user-10');
    // user-0 .. user-9: 1 + 2 + ... + 10 lookups, and user-0's hit
    expect(other).toEqual({ lookups: 55 + 1, hits: 1, tokens: [['gpt-4o', 10, 5]] });
    expect(top.reduce((n, r) => n + r.lookups, 0) + other.lookups).toBe((30 * 31) / 2 + 2);
  });

  it(`counts at most ${TRACKED_NAMESPACES} names: later ones go to other, the total stays exact`, () => {
    const usage = new FleetUsage();
    for (let i = 0; i < TRACKED_NAMESPACES + 100; i++) usage.lookup(`tenant-${i}`, i % 2 === 0);
    const { top, other } = usage.namespaces();
    expect(top).toHaveLength(FLEET_TOP_NAMESPACES);
    expect(top.reduce((n, r) => n + r.lookups, 0) + other.lookups).toBe(TRACKED_NAMESPACES + 100);
    expect(JSON.stringify(usage.namespaces()).length).toBeLessThan(4_000);
  });
});

describe('the reader merges the processes', () => {
  it('a namespace in one process top and in another other: counted once by name, the rest in other', () => {
    // Process A ranks `shared` first; process B has 25 busier namespaces, so `shared` is in its other.
    const a = reported({ shared: 10, alpha: 4 });
    const busy: Record<string, number> = { shared: 3 };
    for (let i = 0; i < 25; i++) busy[`b-${i}`] = 50 + i;
    const b = reported(busy);
    expect(b.top.some((r) => r.name === 'shared')).toBe(false);
    const merged = mergeNamespaces([a, b], 50);
    expect(merged.rows.find((r) => r.name === 'shared')!.lookups).toBe(10);
    // B's 5 least busy namespaces and its 3 lookups of `shared` are in other.
    expect(merged.other.lookups).toBe(3 + 50 + 51 + 52 + 53 + 54);
    const lookups = 10 + 4 + Object.values(busy).reduce((n, v) => n + v, 0);
    expect(total(merged)).toBe(lookups);
    // The reader's own limit folds the rest into other: the total does not move.
    const narrow = mergeNamespaces([a, b], 5);
    expect(narrow.rows).toHaveLength(5);
    expect(total(narrow)).toBe(lookups);
  });

  it('a namespace in both tops is summed by name', () => {
    const merged = mergeNamespaces([reported({ x: 2, y: 1 }), reported({ x: 5 })], 50);
    expect(merged.rows).toEqual([
      { name: 'x', lookups: 7, hits: 0, tokens: [] },
      { name: 'y', lookups: 1, hits: 0, tokens: [] },
    ]);
    expect(merged.reporting).toBe(2);
  });

  it('an old snapshot (no namespaces, no semantic part) reads, sums its counters, and is left out of those panels', () => {
    const now = Date.now();
    const old = snapshot('old', now, { lookups: 40 });
    const current: CountersSnapshot = {
      ...snapshot('new', now, { lookups: 3 }),
      namespaces: reported({ x: 3 }),
    };
    const { snapshots, skipped } = parseRows([JSON.stringify(old), JSON.stringify(current)]);
    expect(skipped).toBe(0);
    expect(snapshots.map((s) => s.namespaces === undefined)).toEqual([true, false]);
    expect(fleetReport(emptyReport(), snapshots).lookups).toBe(43);
    const merged = mergeNamespaces(
      snapshots.map((s) => s.namespaces),
      50,
    );
    expect(merged).toMatchObject({ reporting: 1, rows: [{ name: 'x', lookups: 3 }] });
    expect(mergeSemantic(snapshots.map((s) => ({ at: s.at, semantic: s.semantic }))).size).toBe(0);
  });

  it('crafted rows are skipped and counted, never crash the sums; unknown fields of version 1 are ignored', () => {
    const now = Date.now();
    const good = snapshot('good', now, { lookups: 5 });
    const rows = [
      '{"v":1,"process":"x","cache":', // damaged
      `{"v":1,"pad":"${'x'.repeat(1 << 20)}"}`, // too long to be a snapshot
      JSON.stringify({ ...good, v: 2, process: 'newer' }), // a newer version
      JSON.stringify({ ...good, process: 'nulls', tiers: [null] }),
      JSON.stringify({ ...good, process: 'huge', cache: { ...good.cache, lookups: 1e308, hits: 1e308 } }),
      JSON.stringify({ ...good, process: 'negative tier', tiers: [{ name: 't', hits: -5 }] }),
      JSON.stringify({ ...good, process: 'from the future', at: now + 30 * 365 * 86_400_000 }),
      JSON.stringify({ ...good, process: 'stale', at: now - 2 * 86_400_000 }),
      JSON.stringify({
        ...good,
        process: 'huge savings',
        savings: [{ model: 'm', hits: 1, inputTokens: 1e308, outputTokens: 1 }],
      }),
      JSON.stringify({
        ...good,
        process: 'huge bucket',
        cache: { ...good.cache, lookup: { buckets: [[1, 1e308]], sumMs: 1 } },
      }),
      JSON.stringify({
        ...good,
        process: 'huge namespace',
        namespaces: {
          top: [{ name: 'x', lookups: 1e308, hits: 0, tokens: [] }],
          other: { lookups: 0, hits: 0, tokens: [] },
        },
      }),
      JSON.stringify({
        ...good,
        process: 'deep',
        semantic: JSON.parse(`${'['.repeat(40)}1${']'.repeat(40)}`),
      }),
      JSON.stringify([1, 2]),
      'null',
      '',
      JSON.stringify({ kind: 'strata-history', v: 1, point: {} }), // a history bucket: not a snapshot, not skipped
      JSON.stringify({ ...good, future: { anything: true } }), // read: unknown fields ignored
      JSON.stringify({
        ...good,
        process: 'malformed parts',
        cache: { ...good.cache, lookup: { buckets: 'no' } },
        tiers: [{ name: 't', get: { buckets: [[1e9, 1], 'x'] }, set: null, similarity: 'no' }],
        savings: [null, { model: 'm', hits: 1, inputTokens: 1, outputTokens: 1 }],
        namespaces: {
          top: [{ name: 5 }, { name: 'ok', lookups: -1, hits: 'x', tokens: [[null]] }],
          other: {},
        },
        semantic: [
          {
            tier: 's',
            refusals: { numbers: 'x', negation: 2 },
            similarity: { from: 0.5, bin: 0.02, counts: 'x' },
          },
        ],
      }),
    ];
    const { snapshots, skipped } = parseRows(rows, now);
    expect(skipped).toBe(15);
    expect(snapshots.map((s) => s.process)).toEqual(['good', 'malformed parts']);
    const report = fleetReport(emptyReport(), snapshots);
    expect(report.lookups).toBe(10);
    expect(snapshots[1]!.namespaces).toEqual({
      top: [{ name: 'ok', lookups: 0, hits: 0, tokens: [] }],
      other: { lookups: 0, hits: 0, tokens: [] },
    });
    expect(snapshots[1]!.semantic).toEqual([{ tier: 's', refusals: { negation: 2 } }]);
  });
});

describe('the semantic part over the fleet', () => {
  const bound = (rows: Record<string, Partial<ReturnType<typeof namespaceBound>>>) => {
    const usage = new FleetUsage();
    return usage.semantic('semantic', {
      entries: 0,
      bytes: 0,
      guardRefusals: { numbers: 2 },
      verifierRefusals: 1,
      bound: Object.fromEntries(Object.entries(rows).map(([ns, b]) => [ns, namespaceBound(b)])),
    }).bound!;
  };

  it('sums counts and refusals, keeps the freshest evidence, takes the largest label count', () => {
    const parts: Array<{ at: number; semantic: SemanticSnapshot[] }> = [
      {
        at: 1,
        semantic: [
          {
            tier: 'semantic',
            refusals: { numbers: 2 },
            similarity: { from: 0.5, bin: 0.02, counts: bins({ 24: 3 }) },
            bound: bound({ support: { lookups: 100, hits: 40, errorRate: 0.01, labels: labels(300) } }),
          },
        ],
      },
      {
        at: 2,
        semantic: [
          {
            tier: 'semantic',
            refusals: { numbers: 1, verifier: 4 },
            similarity: { from: 0.5, bin: 0.02, counts: bins({ 24: 2, 0: 1 }) },
            bound: bound({ support: { lookups: 50, hits: 10, errorRate: 0.002, labels: labels(320) } }),
          },
        ],
      },
      // Another version's bins cannot be added bin by bin: left out.
      {
        at: 3,
        semantic: [{ tier: 'semantic', refusals: {}, similarity: { from: 0, bin: 0.1, counts: [9] } }],
      },
    ];
    const merged = mergeSemantic(parts).get('semantic')!;
    expect(merged.refusals).toEqual({ numbers: 3, verifier: 4 });
    expect(merged.similarity!.counts[24]).toBe(5);
    expect(merged.similarity!.counts[0]).toBe(1);
    expect(merged.bound).toEqual([
      expect.objectContaining({
        namespace: 'support',
        lookups: 150,
        hits: 50,
        errorRate: 0.002,
        explorations: 40,
      }),
    ]);
    expect(merged.bound![0]!.labels.free).toBe(320);
  });

  it('bounded: a process reports 20 namespaces of its bound and other; the fleet folds past 20 too', () => {
    const many: Record<string, Partial<ReturnType<typeof namespaceBound>>> = {};
    for (let i = 0; i < 30; i++) many[`t-${i}`] = { lookups: 10 + i, hits: 1 };
    const a = bound(many);
    expect(a.top).toHaveLength(FLEET_TOP_NAMESPACES);
    expect(a.other).toMatchObject({
      namespace: OTHER,
      lookups: 10 + 11 + 12 + 13 + 14 + 15 + 16 + 17 + 18 + 19,
    });
    const b = bound({ 't-0': { lookups: 7, hits: 2 }, solo: { lookups: 1000, hits: 3 } });
    const rows = mergeSemantic([
      { at: 1, semantic: [{ tier: 's', refusals: {}, bound: a }] },
      { at: 2, semantic: [{ tier: 's', refusals: {}, bound: b }] },
    ]).get('s')!.bound!;
    expect(rows).toHaveLength(FLEET_TOP_NAMESPACES + 1);
    expect(rows[0]!.namespace).toBe('solo');
    expect(rows.at(-1)).toMatchObject({ namespace: OTHER, errorRate: null, cutoff: null });
    const lookups = Object.values(many).reduce((n, r) => n + r.lookups!, 0) + 7 + 1000;
    expect(rows.reduce((n, r) => n + r.lookups, 0)).toBe(lookups);
  });
});

describe('two engines on one SQLite file, each with its own process id: serve shows their sum', () => {
  it('namespaces, the similarity tier refusals and error bound, in /api/panels and /metrics', async () => {
    const path = join(dir, 'fleet.db');
    const open = (bound: Record<string, ReturnType<typeof namespaceBound>>) => {
      const semantic = new LabelledTier('semantic-bound', bound);
      semantic.stats = () => ({ entries: 0, bytes: 0, guardRefusals: { numbers: 2 }, bound });
      const sqlite = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 2_000, clock: systemClock });
      const options = { timeoutMs: 2_000, breaker: DEFAULT_BREAKER };
      const manager = new Manager(
        [
          { tier: semantic, options },
          { tier: sqlite, options },
        ],
        { clock: systemClock, coalesceWaitMs: 0, storePrompt: false, logger: { warn: () => {} } },
      );
      manager.start();
      const reporter = new FleetReporter(manager, manager.queries.fleetStore()!, new Savings(), 3_600_000, [
        'semantic-bound',
      ]);
      return { manager, reporter };
    };
    const a = open({ support: namespaceBound({ lookups: 100, hits: 40 }) });
    const b = open({
      support: namespaceBound({ lookups: 20, hits: 4 }),
      billing: namespaceBound({ lookups: 5 }),
    });
    const miss = (m: Manager, ns: string, n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => m.lookup(deriveKey(ns, 'model:"m"', `q ${i}`))));
    await miss(a.manager, 'acme', 7);
    await miss(a.manager, 'globex', 2);
    await miss(b.manager, 'acme', 4);
    await miss(b.manager, 'initech', 1);
    await a.reporter.report();
    await b.reporter.report();
    const monitor = createMonitor(a.manager, undefined, { fleet: true });
    const server = await startServer(a.manager, monitor, { host: '127.0.0.1', port: 0 });
    try {
      const panels = (await (await fetch(`${server.url}/api/panels`)).json()) as Awaited<
        ReturnType<typeof monitor.panels>
      >;
      expect(panels.namespaces.map((r) => [r.name, r.lookups])).toEqual([
        ['acme', 11],
        ['globex', 2],
        ['initech', 1],
      ]);
      expect(panels.fleet).toEqual({ processes: 2, reporting: 2 });
      const semantic = panels.semantic.find((s) => s.tier === 'semantic-bound')!;
      expect(semantic.refusals).toEqual({ numbers: 4 });
      expect(semantic.bound!.map((r) => [r.namespace, r.lookups])).toEqual([
        ['support', 120],
        ['billing', 5],
      ]);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(
        /^strata_semantic_lookups_total\{tier="semantic-bound",namespace="support"\} 120$/m,
      );
      const stats = (await (await fetch(`${server.url}/api/stats`)).json()) as { skippedRows: number };
      expect(stats.skippedRows).toBe(0);
      // A monitor that hides namespaces names them by rank, the fleet's as its own.
      const hidden = await monitor.panels({ hideNamespaces: true });
      expect(JSON.stringify(hidden.semantic)).not.toMatch(/support|billing/);
    } finally {
      await server.close();
      monitor.close();
      for (const { manager, reporter } of [a, b]) {
        await reporter.close();
        await manager.close();
      }
    }
  });
});

function bins(at: Record<number, number>): number[] {
  const out = new Array<number>(25).fill(0);
  for (const [i, n] of Object.entries(at)) out[Number(i)] = n;
  return out;
}

function labels(free: number) {
  return { free, exploration: 0, feedback: 0, background: 0 };
}

function snapshot(process: string, at: number, counts: { lookups: number }): CountersSnapshot {
  return {
    v: 1,
    process,
    host: 'h',
    pid: 1,
    startedAt: at,
    at,
    cache: {
      lookups: counts.lookups,
      hits: 0,
      misses: counts.lookups,
      updates: 0,
      unstorable: 0,
      coalesced: 0,
      unidentified: 0,
      stale: 0,
      errors: 0,
      lookup: { buckets: [[10, counts.lookups]], sumMs: 1 },
    },
    tiers: [],
    savings: [],
  };
}

function emptyReport() {
  const summary = { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0 };
  return {
    lookups: 0,
    hits: 0,
    misses: 0,
    hitRate: 0,
    updates: 0,
    unstorable: 0,
    coalesced: 0,
    unidentified: 0,
    stale: 0,
    inFlight: 0,
    lookup: summary,
    tiers: [],
  };
}
