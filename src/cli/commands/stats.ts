import type { DailyStats } from '../../core/tier.js';
import { type Command, formatBytes, shown, stringFlag, table } from '../context.js';

/**
 * `strata stats [--json]`: what each tier holds (and, within this process, what it served).
 * `--days N`: the daily hits, misses and latency that SQL tiers persisted over the last N days.
 * File-backed tiers are opened read-only: stats never creates or changes a file.
 */
export const stats: Command = async ({ flags, io, open }) => {
  const days = stringFlag(flags, 'days');
  if (days !== undefined && !/^[1-9]\d{0,3}$/.test(days)) {
    io.err('strata stats: --days must be a whole number of days, 1-9999');
    return 2;
  }
  const { cache, source } = await open({ readonly: true });
  try {
    if (days !== undefined) {
      const persisted: DailyStats[] = await cache.internals.queries.daily(Number(days));
      if (flags.json) {
        io.out(JSON.stringify(persisted, null, 2));
        return 0;
      }
      if (persisted.length === 0) {
        io.out('no daily statistics: none of the configured tiers persists them (MySQL does)');
        return 0;
      }
      const rows: Array<Array<string | number>> = [['day', 'tier', 'hits', 'misses', 'hit rate', 'avg ms']];
      for (const d of persisted) {
        const total = d.hits + d.misses;
        rows.push([
          shown(d.day),
          shown(d.tier),
          d.hits,
          d.misses,
          total === 0 ? '-' : `${((100 * d.hits) / total).toFixed(1)}%`,
          d.avgLatencyMs.toFixed(2),
        ]);
      }
      for (const line of table(rows)) io.out(line);
      return 0;
    }
    const report = await cache.stats();
    if (flags.json) {
      io.out(JSON.stringify(report, null, 2));
      return 0;
    }
    io.out(`config: ${shown(source)}`);
    const rows: Array<Array<string | number>> = [
      ['tier', 'type', 'entries', 'bytes', 'breaker', 'namespaces'],
    ];
    for (const t of report.tiers) {
      const namespaces = t.store?.namespaces;
      rows.push([
        shown(t.name),
        shown(t.type),
        t.store?.entries ?? '?',
        t.store ? formatBytes(t.store.bytes) : '?',
        t.breaker,
        typeof namespaces === 'object'
          ? Object.entries(namespaces)
              .map(([ns, n]) => `${shown(ns)}=${n}`)
              .join(' ')
          : '',
      ]);
    }
    for (const line of table(rows)) io.out(line);
    const unreadable = report.tiers.filter((t) => !t.store).map((t) => t.name);
    if (unreadable.length > 0) {
      for (const t of (await cache.health()).tiers) {
        if (unreadable.includes(t.name))
          io.out(`${shown(t.name)}: ${t.status}${t.reason ? ` (${shown(t.reason)})` : ''}`);
      }
    }
    return 0;
  } finally {
    await cache.close();
  }
};
