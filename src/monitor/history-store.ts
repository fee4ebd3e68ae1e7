/**
 * The dashboard's 5-minute buckets kept in the fleet's counter store (SQLite `fleet_counters`,
 * Redis `<prefix>:fleet`), one row per bucket under the name `history:<end>`, for as long as that
 * store keeps rows (FLEET_RETENTION_MS, a day): a `strata serve` that restarts reads them back
 * and its 24-hour and 7-day ranges reach past the restart. The rows are not counter snapshots,
 * so the fleet's sums skip them (parseSnapshots); two monitors writing one bucket leave the last
 * one's, which saw the same fleet.
 */
import type { FleetStore } from '../core/reports.js';
import { FLEET_RETENTION_MS } from '../core/tier.js';
import type { History, SeriesPoint } from './history.js';

const KIND = 'strata-history';

export async function persistBucket(store: FleetStore, bucket: SeriesPoint): Promise<void> {
  await store.publish(`history:${bucket.at}`, JSON.stringify({ kind: KIND, v: 1, point: bucket }), bucket.at);
}

/** Restores the buckets kept within the last day; a store that cannot be read restores nothing. */
export async function restoreHistory(store: FleetStore, history: History, now: number): Promise<void> {
  const rows = (await store.read(now - FLEET_RETENTION_MS)) ?? [];
  history.restore(rows.flatMap(parseBucket));
}

/** A persisted bucket, or nothing for any other row (a snapshot, a newer version, damage). */
export function parseBucket(row: string): SeriesPoint[] {
  try {
    const parsed = JSON.parse(row) as { kind?: unknown; v?: unknown; point?: Partial<SeriesPoint> };
    const p = parsed?.kind === KIND && parsed.v === 1 ? parsed.point : undefined;
    if (!p || !isCount(p.at) || !isCount(p.spanMs) || !isCount(p.lookups) || !isCount(p.hits)) return [];
    if (!isRecord(p.tiers) || !isRecord(p.savings)) return [];
    const tiers: SeriesPoint['tiers'] = {};
    for (const [name, t] of Object.entries(p.tiers)) {
      if (!isRecord(t) || !isCount(t.hits) || !isCount(t.misses)) return [];
      tiers[name] = { hits: t.hits, misses: t.misses, p50Ms: latency(t.p50Ms), p99Ms: latency(t.p99Ms) };
    }
    const savings: SeriesPoint['savings'] = {};
    for (const [model, v] of Object.entries(p.savings)) {
      if (!isRecord(v) || !isCount(v.tokens) || !isCount(v.cost)) return [];
      savings[model] = { tokens: v.tokens, cost: v.cost };
    }
    const hits = Math.min(p.hits, p.lookups);
    return [
      {
        at: p.at,
        spanMs: p.spanMs,
        lookups: p.lookups,
        hits,
        hitRate: p.lookups === 0 ? null : hits / p.lookups,
        tiers,
        savings,
        source: 'samples',
      },
    ];
  } catch {
    return [];
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const latency = (v: unknown): number | null => (isCount(v) ? v : null);
