/** The Grafana dashboard (dashboards/grafana/strata.json) as its tests read it: panels, queries, variables. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARD_PATH = join(import.meta.dirname, '..', '..', 'dashboards', 'grafana', 'strata.json');

export interface Target {
  readonly datasource?: { type?: string; uid?: string };
  readonly expr: string;
  readonly refId: string;
  readonly instant?: boolean;
}

export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly gridPos: { h: number; w: number; x: number; y: number };
  readonly targets?: Target[];
  readonly panels?: Panel[];
}

export interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query: string;
  readonly datasource?: { type?: string; uid?: string };
  readonly allValue?: string;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly panels: Panel[];
  readonly templating: { list: Variable[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included (a collapsed row keeps its panels inside it). */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every query of every panel, with the panel it belongs to. */
export function panelQueries(d: Dashboard): Array<{ panel: string; refId: string; expr: string }> {
  return allPanels(d).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })),
  );
}

/** Grafana's own variables the queries may use, and what a test substitutes for them. */
export const BUILTINS: Record<string, string> = { __rate_interval: '1m', __range: '5m', __interval: '15s' };

/**
 * A query as Prometheus gets it from Grafana: builtins replaced, and each template variable by
 * `values[name]` (a regex, as Grafana writes a multi-value or All selection inside `=~`).
 */
export function substitute(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = BUILTINS[name] ?? values[name];
    if (value === undefined) throw new Error(`unknown variable ${whole} in ${expr}`);
    return value;
  });
}

/** The names of the variables a query uses (builtins left out). */
export function variablesIn(expr: string): string[] {
  return [...expr.matchAll(/\$\{?(\w+)\}?/g)].map((m) => m[1]!).filter((n) => !(n in BUILTINS));
}

/** `label_values(metric{...}, label)`: the series selector and the label, as Grafana's Prometheus source runs it. */
export function labelValuesQuery(query: string): { selector: string; label: string } {
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(query.trim());
  if (!m) throw new Error(`not a label_values query: ${query}`);
  return { selector: m[1]!.trim(), label: m[2]! };
}

/**
 * The metric names a query selects: every selector (`name{...}` or `name[...]` or a bare name)
 * of a metric of Strata's, and any selector without a name (which would match other programs'
 * metrics), as `''`.
 */
export function metricNamesIn(expr: string): string[] {
  const names = new Set<string>();
  // Label matchers and strings are not metric names: drop what is inside {...} and "...".
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const m of bare.matchAll(/([A-Za-z_:][\w:]*)?\s*\{/g)) names.add(m[1] ?? '');
  for (const m of bare.replace(/\{[^}]*\}/g, '').matchAll(/\b(strata_\w+)/g)) names.add(m[1]!);
  return [...names].filter(
    (n) => !/^(sum|max|min|avg|count|rate|increase|histogram_quantile|by|without)$/.test(n),
  );
}
