/**
 * The Grafana dashboard (dashboards/grafana/strata.json) without Grafana: every metric it names
 * is one Strata exports (so a rename breaks this test, not an operator's dashboard), every query
 * and variable reads the chosen data source, and the file ships in the package.
 * dashboard.int.test.ts runs every query against a real Prometheus.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRIC_FAMILIES, type MetricFamily, seriesNames } from '../../src/monitor/metrics.js';
import { ProxyCounters } from '../../src/proxy/metrics.js';
import {
  allPanels,
  BUILTINS,
  labelValuesQuery,
  loadDashboard,
  metricNamesIn,
  panelQueries,
  variablesIn,
} from './dashboard.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DATASOURCE = { type: 'prometheus', uid: '$' + '{DS_PROMETHEUS}' };

/** Every series name /metrics can carry: the monitor's families and the gateway's. */
function exported(): Set<string> {
  const names = new Set<string>();
  for (const [name, family] of Object.entries(METRIC_FAMILIES) as Array<[string, MetricFamily]>)
    for (const series of seriesNames(name, family)) names.add(series);
  // The gateway writes its three families (HELP and TYPE) even before its first request.
  for (const m of new ProxyCounters().text().matchAll(/^# TYPE (\w+) counter$/gm)) names.add(m[1]!);
  return names;
}

describe('the Grafana dashboard', () => {
  const dashboard = loadDashboard();
  const queries = panelQueries(dashboard);
  const variables = dashboard.templating.list;

  it('names only metrics Strata exports, each with a selector of its own name', () => {
    const known = exported();
    expect(known.has('strata_proxy_requests_total')).toBe(true);
    expect(queries.length).toBeGreaterThan(20);
    const unknown: string[] = [];
    const used = new Set<string>();
    for (const q of queries) {
      const names = metricNamesIn(q.expr);
      expect(names.length, `${q.panel} ${q.refId}`).toBeGreaterThan(0);
      for (const n of names) {
        used.add(n);
        if (!known.has(n))
          unknown.push(`${q.panel} (${q.refId}): ${n || 'a selector without a metric name'}`);
      }
    }
    for (const v of variables.filter((v) => v.type === 'query')) {
      const { selector } = labelValuesQuery(v.query);
      for (const n of metricNamesIn(selector))
        if (!known.has(n)) unknown.push(`variable ${v.name}: ${n || 'a selector without a metric name'}`);
    }
    expect(unknown).toEqual([]);
    // What the brief asked for is there: per-tier hit rate, latency quantiles, savings, breaker, gateway.
    for (const n of [
      'strata_tier_hits_total',
      'strata_lookup_duration_seconds_bucket',
      'strata_tier_duration_seconds_bucket',
      'strata_saved_tokens_total',
      'strata_saved_cost_usd_total',
      'strata_tier_breaker_state',
      'strata_tier_errors_total',
      'strata_proxy_requests_total',
    ])
      expect(used, n).toContain(n);
  });

  it('takes quantiles from histogram buckets summed by le', () => {
    for (const q of queries.filter((q) => q.expr.includes('histogram_quantile'))) {
      expect(q.expr, q.panel).toMatch(/histogram_quantile\(0\.\d+, sum by \(le[,)][\s\S]*_bucket\{/);
    }
  });

  it('reads every panel, query and variable from the data source variable, and every variable it uses is defined', () => {
    expect(variables[0]).toMatchObject({ name: 'DS_PROMETHEUS', type: 'datasource', query: 'prometheus' });
    const defined = new Set(variables.map((v) => v.name));
    for (const p of allPanels(dashboard).filter((p) => p.type !== 'row')) {
      expect(p.datasource, p.title).toEqual(DATASOURCE);
      for (const t of p.targets ?? []) expect(t.datasource, `${p.title} ${t.refId}`).toEqual(DATASOURCE);
    }
    for (const v of variables.filter((v) => v.type === 'query'))
      expect(v.datasource, v.name).toEqual(DATASOURCE);
    for (const q of queries)
      for (const name of variablesIn(q.expr)) expect(defined, `${q.panel}: $${name}`).toContain(name);
    expect(Object.keys(BUILTINS)).toContain('__rate_interval');
  });

  it('has unique panel ids and a layout within Grafana’s 24 columns', () => {
    const panels = allPanels(dashboard);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.title.length, `panel ${p.id}`).toBeGreaterThan(0);
    }
    expect(dashboard).toMatchObject({ uid: 'strata-cache', schemaVersion: 39 });
  });

  it('ships in the package', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('dashboards/grafana/strata.json');
  });
});
