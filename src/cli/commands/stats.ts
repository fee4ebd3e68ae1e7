import { type ResolvedConfig, tierName } from '../../config/schema.js';
import type { HealthReport } from '../../core/reports.js';
import type { DailyStats, TierStats } from '../../core/tier.js';
import type { Strata } from '../../engine/strata.js';
import { tierTypesWith } from '../../tiers/index.js';
import { type Command, formatBytes, type Io, shown, stringFlag, table } from '../context.js';

/** Tier types that persist daily statistics (their stats tables). */
const DAILY_TYPES = tierTypesWith('daily');

/**
 * `strata stats [--json]`: what each tier holds (and, within this process, what it served).
 * `--days N`: the daily hits, misses and latency that SQL tiers persisted over the last N days.
 * File-backed tiers are opened read-only: stats never creates or changes a file. A tier that
 * could not be read is named with the reason and the exit status is 1: its figures are unknown,
 * not zero.
 */
export const stats: Command = async ({ flags, io, open }) => {
  const days = stringFlag(flags, 'days');
  if (days !== undefined && !/^[1-9]\d{0,3}$/.test(days)) {
    io.err('strata stats: --days must be a whole number of days, 1-9999');
    return 2;
  }
  const { strata, source, config } = await open({ readonly: true });
  // Why a tier's call failed, as the manager reports it (a down tier's health says it too).
  const failures = new Map<string, string>();
  const onError = ({ tier, op, error }: { tier: string; op: string; error: Error }) =>
    failures.set(`${tier}\n${op}`, error.message);
  strata.events.on('error', onError);
  try {
    if (days !== undefined)
      return await daily(strata, config, Number(days), { io, json: flags.json === true, failures });
    const report = await strata.stats();
    const unreadable = report.tiers.filter((t) => !t.store).map((t) => t.name);
    if (flags.json) {
      io.out(JSON.stringify(report, null, 2));
    } else {
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
      for (const line of boundLines(report.tiers)) io.out(line);
    }
    const health = unreadable.length > 0 ? (await strata.health()).tiers : [];
    const why = unreadReasons(unreadable, health, failures, 'stats');
    for (const [tier, reason] of why) {
      io.err(
        `strata stats: tier ${shown(tier)} could not be read (${shown(reason)}); what it holds is unknown`,
      );
    }
    return why.size > 0 ? 1 : 0;
  } finally {
    strata.events.off('error', onError);
    await strata.close();
  }
};

/**
 * What each semantic tier under `maxErrorRate` has learned, per namespace (docs/semantic-bound.md):
 * the labels it holds are read from its store, so they show here; hits and explorations are this
 * process's (none, for a command).
 */
function boundLines(tiers: Array<{ name: string; store?: TierStats }>): string[] {
  const rows: Array<Array<string | number>> = [];
  const percent = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(2)}%`);
  for (const t of tiers)
    for (const [namespace, b] of Object.entries(t.store?.bound ?? {}))
      rows.push([
        shown(t.name),
        shown(namespace),
        percent(b.maxErrorRate),
        b.errorRate === null
          ? 'learning: serves nothing yet'
          : `${percent(b.errorRate)} [${percent(b.errorLow)}, ${percent(b.errorHigh)}]`,
        b.cutoff === null ? '-' : b.cutoff.toFixed(3),
        `free ${b.labels.free}, exploration ${b.labels.exploration}, feedback ${b.labels.feedback}, background ${b.labels.background}`,
      ]);
  if (rows.length === 0) return [];
  return ['', ...table([['tier', 'namespace', 'bound', 'error rate [95%]', 'cutoff', 'labels'], ...rows])];
}

/** `stats --days N`: the persisted daily statistics; exit 1 when a tier that keeps them could not be read. */
async function daily(
  strata: Strata,
  config: ResolvedConfig,
  days: number,
  options: { io: Io; json: boolean; failures: Map<string, string> },
): Promise<number> {
  const { io } = options;
  const queries = strata.queries;
  const persisted: DailyStats[] = await queries.daily(days);
  // The tiers that keep daily statistics: by type (a tier that is down has not said it can), or
  // by what an open tier offers (a custom tier).
  const keepers = new Set([
    ...config.tiers.filter((t) => DAILY_TYPES.includes(t.type)).map((t) => tierName(t)),
    ...queries.able('daily'),
  ]);
  const health = (await strata.health()).tiers;
  const unread = [...keepers].filter(
    (t) => health.find((h) => h.name === t)?.status === 'down' || options.failures.has(`${t}\ndaily`),
  );
  const why = unreadReasons(unread, health, options.failures, 'daily');
  if (options.json) {
    io.out(JSON.stringify(persisted, null, 2));
  } else if (persisted.length > 0) {
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
  } else if (keepers.size === 0) {
    io.out(
      `no daily statistics: none of the configured tiers keeps them (${DAILY_TYPES.slice(0, -1).join(', ')} and ${DAILY_TYPES.at(-1)} tiers do)`,
    );
  } else if (why.size === 0) {
    io.out(
      `no daily statistics in the last ${days} day(s) (kept by tier ${[...keepers].map((t) => shown(t)).join(', ')})`,
    );
  }
  for (const [tier, reason] of why) {
    io.err(
      `strata stats: tier ${shown(tier)} keeps daily statistics but could not be read (${shown(reason)}); its days are unknown`,
    );
  }
  return why.size > 0 ? 1 : 0;
}

/** Why each tier could not be read: down (with its health's reason), or the call that failed. */
function unreadReasons(
  tiers: string[],
  health: HealthReport['tiers'],
  failures: Map<string, string>,
  op: string,
): Map<string, string> {
  const why = new Map<string, string>();
  for (const tier of tiers) {
    const h = health.find((t) => t.name === tier);
    const failure = failures.get(`${tier}\n${op}`);
    if (h?.status === 'down') why.set(tier, `it is down: ${h.reason ?? failure ?? 'no reason given'}`);
    else why.set(tier, failure === undefined ? 'no reason given' : `${op} failed: ${failure}`);
  }
  return why;
}
