/**
 * What the dashboard's panels answer beyond the totals, from this process's hits and misses:
 * which namespaces and models are looked up, hit and save the most, how close the semantic
 * tier's hits were, and since when each tier has been in its current health.
 *
 * Namespaces and models are counted under a bound: an application that mints a namespace per
 * user must not grow the monitor without limit, so past `MAX_KEYS - 1` distinct names new ones
 * are counted together under `(other)`.
 */
import { OTHER, SIMILARITY_BIN, SIMILARITY_FROM, TRACKED_NAMESPACES } from '../core/fleet-usage.js';
import type { HealthReport } from '../core/reports.js';
import type { TierStatus } from '../core/tier.js';

/** The bucket and the similarity bins are the fleet snapshots' (core/fleet-usage.ts), so the two add up. */
export { OTHER, SIMILARITY_BIN, SIMILARITY_FROM };
export const MAX_KEYS = TRACKED_NAMESPACES;

export interface UsageRow {
  name: string;
  lookups: number;
  hits: number;
  hitRate: number;
  savedTokens: number;
  savedCost: number;
}

export interface TierSince {
  name: string;
  type: string;
  status: TierStatus;
  reason?: string;
  /** When this status was first seen (ms); `sinceStart`: it has held since the monitor started. */
  since: number;
  sinceStart: boolean;
}

class Counted {
  private readonly rows = new Map<string, UsageRow>();

  add(name: string, hit: boolean, tokens: number, cost: number): void {
    let row = this.rows.get(name);
    if (!row) {
      // One row stays free for (other): at most MAX_KEYS rows in all.
      const key = this.rows.size < MAX_KEYS - 1 ? name : OTHER;
      row = this.rows.get(key);
      if (!row) {
        row = { name: key, lookups: 0, hits: 0, hitRate: 0, savedTokens: 0, savedCost: 0 };
        this.rows.set(key, row);
      }
    }
    row.lookups++;
    if (hit) row.hits++;
    row.savedTokens += tokens;
    row.savedCost += cost;
  }

  /** The `limit` rows with the most lookups. */
  top(limit: number): UsageRow[] {
    return [...this.rows.values()]
      .map((r) => ({ ...r, hitRate: r.lookups === 0 ? 0 : r.hits / r.lookups }))
      .sort((a, b) => b.lookups - a.lookups || a.name.localeCompare(b.name))
      .slice(0, limit);
  }
}

export class Insights {
  private readonly namespaces = new Counted();
  private readonly models = new Counted();
  /** Per similarity tier: hits per bin (index 0 holds everything below SIMILARITY_FROM + one bin). */
  private readonly similarity = new Map<string, number[]>();
  private readonly health = new Map<string, TierSince>();

  constructor(private readonly startedAt: number) {}

  lookup(namespace: string, model: string, hit: boolean, tokens = 0, cost = 0): void {
    this.namespaces.add(namespace, hit, tokens, cost);
    this.models.add(model, hit, tokens, cost);
  }

  similarHit(tier: string, similarity: number): void {
    let bins = this.similarity.get(tier);
    if (!bins) {
      bins = new Array(Math.round((1 - SIMILARITY_FROM) / SIMILARITY_BIN)).fill(0);
      this.similarity.set(tier, bins);
    }
    const index = Math.floor((similarity - SIMILARITY_FROM) / SIMILARITY_BIN + 1e-9);
    bins[Math.min(bins.length - 1, Math.max(0, index))]!++;
  }

  /** Records a health check: a tier's `since` moves only when its status changes. */
  observeHealth(report: HealthReport, now: number): void {
    for (const t of report.tiers) {
      const known = this.health.get(t.name);
      if (known && known.status === t.status) {
        known.reason = t.reason;
        continue;
      }
      this.health.set(t.name, {
        name: t.name,
        type: t.type,
        status: t.status,
        ...(t.reason === undefined ? {} : { reason: t.reason }),
        since: known ? now : this.startedAt,
        sinceStart: !known,
      });
    }
  }

  report(limit = 10) {
    return {
      namespaces: this.namespaces.top(limit),
      models: this.models.top(limit),
      similarity: [...this.similarity].map(([tier, bins]) => ({
        tier,
        from: SIMILARITY_FROM,
        bin: SIMILARITY_BIN,
        counts: [...bins],
      })),
      health: [...this.health.values()].map((h) => ({ ...h })),
    };
  }
}
