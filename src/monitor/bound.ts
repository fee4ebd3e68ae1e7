/**
 * What a semantic tier with `maxErrorRate` has learned, per namespace (`stats().bound`, type in
 * core/tier.ts), as the monitor shows it in /metrics and the dashboard's semantic panel.
 *
 * Namespaces are the application's (one per user, per tenant at the gateway), so a tier may report
 * any number of them: the MAX_BOUND_NAMESPACES with the most lookups are shown by name and the
 * rest summed under `(other)`, whose counts add up but whose rates and cutoffs, which do not, are
 * left out (null). Namespaces may also be hidden (a monitor without a token at the gateway, whose
 * namespaces are its tenants): then they are named by rank, `namespace 1`, `namespace 2`, ...
 */
import { type BoundUsage, boundRow, sumBound } from '../core/fleet-usage.js';
import type { NamespaceBound, TierStats } from '../core/tier.js';

/** Namespaces per tier shown by name in /metrics and the dashboard; the rest are `(other)`. */
export const MAX_BOUND_NAMESPACES = 20;

/** One namespace's row; the fields that cannot be summed are null in `(other)`. */
export type BoundRow = BoundUsage;

/** A tier's `stats().bound`, if it reports a well-formed one (a driver's stats are not trusted blindly). */
export function boundOf(store: TierStats | undefined): Record<string, NamespaceBound> | undefined {
  const bound = store?.bound;
  return bound !== null && typeof bound === 'object' && !Array.isArray(bound) ? bound : undefined;
}

/** The rows to show, most lookups first, at most `limit` by name and `(other)` for the rest. */
export function boundRows(
  bound: Record<string, NamespaceBound>,
  options: { limit?: number; hideNamespaces?: boolean } = {},
): BoundRow[] {
  const limit = options.limit ?? MAX_BOUND_NAMESPACES;
  const ranked = Object.entries(bound)
    .filter(([, b]) => b !== null && typeof b === 'object')
    .map(([namespace, b]) => boundRow(namespace, b))
    .sort((a, b) => b.lookups - a.lookups || a.namespace.localeCompare(b.namespace));
  const shown = ranked.slice(0, limit);
  const rest = ranked.slice(shown.length);
  const rows = options.hideNamespaces
    ? shown.map((r, i) => ({ ...r, namespace: `namespace ${i + 1}` }))
    : shown;
  if (rest.length > 0) rows.push(sumBound(rest, 'sum'));
  return rows;
}
