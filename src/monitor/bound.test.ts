/**
 * A semantic tier's error bound per namespace (`stats().bound`) in /metrics and the dashboard's
 * semantic panel, fed by a small tier that reports one (the learner itself is tested with the tier).
 */
import { readFileSync } from 'node:fs';
import { createContext, runInContext } from 'node:vm';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { LabelledTier, namespaceBound } from '../../test/support/labelled-tier.js';
import { DEFAULT_BREAKER } from '../core/breaker.js';
import { ManualClock } from '../core/clock.js';
import { Manager } from '../core/manager.js';
import type { NamespaceBound } from '../core/tier.js';
import { boundRows, MAX_BOUND_NAMESPACES } from './bound.js';
import { createMonitor, type Monitor, type Panels } from './index.js';
import { OTHER } from './insights.js';
import { startServer } from './server.js';

const opened: Array<{ monitor: Monitor; manager: Manager }> = [];
afterEach(async () => {
  for (const { monitor, manager } of opened.splice(0)) {
    monitor.close();
    await manager.close();
  }
});

function monitorOf(bound: Record<string, NamespaceBound>): Monitor {
  const tier = new LabelledTier('semantic-bound', bound);
  const manager = new Manager([{ tier, options: { timeoutMs: 1_000, breaker: DEFAULT_BREAKER } }], {
    clock: new ManualClock(),
    coalesceWaitMs: 0,
    storePrompt: true,
    logger: { warn: () => {} },
  });
  const monitor = createMonitor(manager);
  opened.push({ monitor, manager });
  return monitor;
}

/** The samples of one metric family, as `labels -> value` lines. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2]!, Number(m[3]));
  }
  return out;
}

describe('boundRows', () => {
  it(`names the ${MAX_BOUND_NAMESPACES} namespaces with the most lookups and sums the rest, rates left out`, () => {
    const bound: Record<string, NamespaceBound> = {};
    for (let i = 0; i < 25; i++) bound[`user-${i}`] = namespaceBound({ lookups: 100 + i, hits: 10 });
    const rows = boundRows(bound);
    expect(rows).toHaveLength(MAX_BOUND_NAMESPACES + 1);
    expect(rows[0]!.namespace).toBe('user-24');
    const other = rows.at(-1)!;
    expect(other).toMatchObject({ namespace: OTHER, lookups: 100 + 101 + 102 + 103 + 104, hits: 50 });
    expect(other).toMatchObject({ errorRate: null, errorLow: null, errorHigh: null, cutoff: null });
    expect(other.maxErrorRate).toBe(0.01);
    expect(other.labels.free).toBe(5 * 300);
    const hidden = boundRows(bound, { hideNamespaces: true });
    expect(hidden.map((r) => r.namespace).slice(0, 2)).toEqual(['namespace 1', 'namespace 2']);
    expect(hidden.at(-1)!.namespace).toBe(OTHER);
  });

  it('takes nothing it cannot show as a number: a NaN, a negative count, a rate above 1', () => {
    const [row] = boundRows({
      a: namespaceBound({ errorRate: Number.NaN, lookups: -3, maxErrorRate: 2, cutoff: null }),
    });
    expect(row).toMatchObject({ errorRate: null, lookups: 0, maxErrorRate: null, cutoff: null });
  });
});

describe('error bound in /metrics', () => {
  it('exposes the bound, the error rate with its interval, hits, lookups, labels, explorations and cutoff per namespace', async () => {
    const monitor = monitorOf({
      support: namespaceBound(),
      'cold"start\n': namespaceBound({
        errorRate: null,
        errorLow: null,
        errorHigh: null,
        cutoff: null,
        lookups: 50,
        hits: 0,
      }),
    });
    const text = await monitor.metrics();
    expect(text).not.toMatch(/NaN/);
    const label = (ns: string, extra = '') => `tier="semantic-bound",namespace="${ns}"${extra}`;
    expect(samples(text, 'strata_semantic_error_bound').get(label('support'))).toBe(0.01);
    const rate = samples(text, 'strata_semantic_error_rate');
    expect(rate.get(label('support', ',bound="estimate"'))).toBe(0.004);
    expect(rate.get(label('support', ',bound="low"'))).toBe(0.001);
    expect(rate.get(label('support', ',bound="high"'))).toBe(0.009);
    expect(samples(text, 'strata_semantic_hits_total').get(label('support'))).toBe(400);
    expect(samples(text, 'strata_semantic_lookups_total').get(label('support'))).toBe(1_000);
    const labels = samples(text, 'strata_semantic_labels_total');
    expect(labels.get(label('support', ',source="free"'))).toBe(300);
    expect(labels.get(label('support', ',source="feedback"'))).toBe(5);
    expect(labels.get(label('support', ',source="background"'))).toBe(0);
    expect(samples(text, 'strata_semantic_explorations_total').get(label('support'))).toBe(20);
    expect(samples(text, 'strata_semantic_exploration_budget').get(label('support'))).toBe(0.02);
    expect(samples(text, 'strata_semantic_cutoff').get(label('support'))).toBe(0.87);
    // A namespace still learning: its counts, no rate and no cutoff; its name escaped as a label value.
    const cold = label('cold\\"start\\n');
    expect(samples(text, 'strata_semantic_lookups_total').get(cold)).toBe(50);
    expect(samples(text, 'strata_semantic_error_bound').get(cold)).toBe(0.01);
    expect([...rate.keys()].some((k) => k.includes('cold'))).toBe(false);
    expect([...samples(text, 'strata_semantic_cutoff').keys()].some((k) => k.includes('cold'))).toBe(false);
  });

  it('bounds the namespaces per tier, and hides their names when asked', async () => {
    const bound: Record<string, NamespaceBound> = {};
    for (let i = 0; i < 40; i++) bound[`tenant-${i}`] = namespaceBound({ lookups: i });
    const monitor = monitorOf(bound);
    const lookups = samples(await monitor.metrics(), 'strata_semantic_lookups_total');
    expect(lookups.size).toBe(MAX_BOUND_NAMESPACES + 1);
    expect(lookups.get(`tier="semantic-bound",namespace="${OTHER}"`)).toBe((19 * 20) / 2);
    const hidden = await monitor.metrics({ hideNamespaces: true });
    expect(hidden).not.toMatch(/tenant-/);
    expect(
      samples(hidden, 'strata_semantic_lookups_total').get('tier="semantic-bound",namespace="namespace 1"'),
    ).toBe(39);
  });

  it('a tier without a bound adds no semantic series', async () => {
    expect(await monitorOf({}).metrics()).not.toMatch(/strata_semantic_error_bound\{/);
  });
});

describe('error bound in the semantic panel', () => {
  it("the panels' data carries each namespace's row", async () => {
    const panels = await monitorOf({ support: namespaceBound() }).panels();
    const semantic = panels.semantic.find((s) => s.tier === 'semantic-bound');
    expect(semantic?.bound).toEqual([
      expect.objectContaining({ namespace: 'support', maxErrorRate: 0.01, errorRate: 0.004, hits: 400 }),
    ]);
    const hidden = await monitorOf({ support: namespaceBound() }).panels({ hideNamespaces: true });
    expect(hidden.semantic[0]?.bound?.[0]?.namespace).toBe('namespace 1');
  });

  it('shows bound, error rate with interval, hit rate, labels, explorations; learning namespaces; names escaped', async () => {
    const panels = await monitorOf({
      support: namespaceBound(),
      '<img src=x onerror=alert(1)>': namespaceBound({
        errorRate: null,
        errorLow: null,
        errorHigh: null,
        lookups: 5,
      }),
    }).panels();
    const html = renderSemanticPanel(panels);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img');
    expect(html).toContain('learning — serves nothing yet');
    const support = /<tr><td>support<\/td>(.*?)<\/tr>/.exec(html)![1]!;
    expect(support).toContain('1.0%'); // the bound
    expect(support).toContain('0.4%'); // the estimate
    expect(support).toContain('(0.1%–0.9%)'); // its interval
    expect(support).toContain('40.0%'); // hit rate
    expect(support).toContain('free 300, exploration 20, feedback 5');
    expect(support).toContain('20 / 20'); // explorations spent / budget (2% of 1,000 lookups)
  });
});

describe('a monitor that hides namespaces (the gateway without a token)', () => {
  it('names no namespace of the bound in /metrics, /api/stats or /api/panels', async () => {
    const tier = new LabelledTier('semantic-bound', {
      'root/key:tenant-digest': namespaceBound({ lookups: 9 }),
      'root/team:alice': namespaceBound({ lookups: 3 }),
    });
    const manager = new Manager([{ tier, options: { timeoutMs: 1_000, breaker: DEFAULT_BREAKER } }], {
      clock: new ManualClock(),
      coalesceWaitMs: 0,
      storePrompt: true,
      logger: { warn: () => {} },
    });
    const monitor = createMonitor(manager);
    opened.push({ monitor, manager });
    const server = await startServer(manager, monitor, { host: '127.0.0.1', port: 0, hideNamespaces: true });
    try {
      for (const path of ['/metrics', '/api/stats', '/api/panels']) {
        const text = await (await fetch(`${server.url}${path}`)).text();
        expect(text, path).not.toMatch(/tenant-digest|alice/);
        expect(text, path).toContain('namespace 1');
      }
      const stats = (await (await fetch(`${server.url}/api/stats`)).json()) as {
        stats: { tiers: Array<{ store: { bound: Record<string, NamespaceBound> } }> };
      };
      expect(stats.stats.tiers[0]!.store.bound['namespace 1']!.lookups).toBe(9);
    } finally {
      await server.close();
    }
  });
});

/** The page's own semanticPanel (dashboard/panels.ts, with page.ts's helpers), run as the browser runs it. */
function renderSemanticPanel(panels: Panels): string {
  const source = ['page', 'panels']
    .map((name) => {
      const code = readFileSync(new URL(`./dashboard/${name}.ts`, import.meta.url), 'utf8');
      return ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText;
    })
    .join('\n');
  const element = { addEventListener: () => {}, clientWidth: 600, dataset: {} };
  const context = createContext({
    location: { hash: '' },
    document: {
      getElementById: () => element,
      querySelector: () => element,
      querySelectorAll: () => [],
    },
  });
  runInContext(source, context);
  context.panels = JSON.parse(JSON.stringify(panels));
  return runInContext('semanticPanel(panels)', context) as string;
}
