/**
 * What the page reads of the monitor's API (monitor/server.ts): the fields it uses, not every
 * field sent. Types only, so this script is empty once transpiled.
 */

interface TierStats {
  name: string;
  hits: number;
  misses: number;
  breaker?: string;
  store?: { entries: number };
  get: { p99Ms: number };
}
interface ModelSavings {
  model: string;
  hits: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}
interface StatsReply {
  /** `stale`: answers served past their TTL because the model call failed (absent before it existed). */
  stats: { lookups: number; hitRate: number; stale?: number; tiers: TierStats[] };
  savings: { tokens: number; cost: number; models: ModelSavings[] };
  fleet: boolean;
  processes?: unknown[];
}
interface Alert {
  id: string;
  state: 'firing' | 'resolved';
  message: string;
  firedAt: number;
  resolvedAt?: number;
}
interface AlertsReply {
  active: Alert[];
  recent: Alert[];
}
interface SeriesPoint {
  at: number;
  spanMs: number;
  hitRate: number | null;
  tiers: Record<string, { hits: number; misses: number; p99Ms: number | null }>;
  savings: Record<string, { tokens: number; cost: number }>;
  source: 'samples' | 'daily';
}
interface SeriesReply {
  from: number;
  to: number;
  startedAt: number;
  points: SeriesPoint[];
}
/** A row of a top table; a fleet's models have no lookups, so no hit rate either. */
interface UsageRow {
  name: string;
  lookups: number | null;
  hits: number;
  hitRate: number | null;
  savedTokens: number;
  savedCost: number;
}
interface TierHealth {
  status: string;
  reason?: string;
  since: number;
  sinceStart: boolean;
}
interface Similarity {
  from: number;
  bin: number;
  counts: number[];
}
/** One namespace of a semantic tier with `maxErrorRate` (monitor/bound.ts); null: unknown. */
interface BoundRow {
  namespace: string;
  maxErrorRate: number | null;
  errorRate: number | null;
  errorLow: number | null;
  errorHigh: number | null;
  lookups: number;
  hits: number;
  labels: Record<string, number>;
  explorations: number;
  explorationBudget: number | null;
  cutoff: number | null;
}
interface PanelsReply {
  namespaces: UsageRow[];
  models: UsageRow[];
  semantic: Array<{
    tier: string;
    similarity?: Similarity;
    refusals: Record<string, number>;
    bound?: BoundRow[];
  }>;
  health: Array<TierHealth & { name: string }>;
  /** Fleet mode: processes reporting, and those of them that report namespaces and matching. */
  fleet?: { processes: number; reporting: number };
}
