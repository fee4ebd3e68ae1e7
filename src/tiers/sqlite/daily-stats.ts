/**
 * Hit bookkeeping on a SQLite file: batched access counts (core/access-batch.ts) and the day's
 * hits, misses and latency, written in one transaction; and the daily statistics read back.
 */
import type Database from 'better-sqlite3';
import type { AccessBatchContents } from '../../core/access-batch.js';
import type { DailyStats } from '../../core/tier.js';
import type { Statements } from './statements.js';

/** How often the batched counts are written. */
export const ACCESS_FLUSH_MS = 1_000;

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Writes one batch of access counts and the day's statistics of tier `tier`, in one transaction. */
export function writeAccess(
  db: Database.Database,
  stmt: Statements,
  tier: string,
  { counts, totals }: AccessBatchContents,
  now: number,
): void {
  db.transaction(() => {
    for (const [hash, count] of counts) stmt.touch.run(count, now, hash);
    if (totals.hits + totals.misses > 0) {
      stmt.addStats.run({
        day: utcDay(now),
        tier,
        hits: totals.hits,
        misses: totals.misses,
        total: totals.hits + totals.misses,
        latency: totals.latencyMs,
      });
    }
  })();
}

/** Daily statistics as persisted (UTC days, most recent first) of the last `days` days. */
export function readDaily(stmt: Statements, days: number, now: number): DailyStats[] {
  const since = utcDay(now - (days - 1) * 86_400_000);
  const rows = stmt.daily.all(since) as Array<{
    day: string;
    tier: string;
    hits: number;
    misses: number;
    total: number;
    latency_ms: number;
  }>;
  return rows.map((r) => ({
    day: r.day,
    tier: r.tier,
    hits: r.hits,
    misses: r.misses,
    avgLatencyMs: r.total === 0 ? 0 : r.latency_ms / r.total,
  }));
}
