import { type Command, shown, table } from '../context.js';

/**
 * `strata doctor`: health of every configured tier; exit 1 when any tier is down. Opens SQLite
 * read-only (a missing file is reported, not created) and runs its integrity check, so a
 * malformed file or a full disk shows as down with the reason.
 */
export const doctor: Command = async ({ io, open }) => {
  const { strata, source } = await open({ readonly: true, integrityCheck: true });
  try {
    const health = await strata.health();
    io.out(`config: ${shown(source)}`);
    const rows: string[][] = [['tier', 'type', 'status', 'breaker', 'reason']];
    for (const t of health.tiers)
      rows.push([shown(t.name), shown(t.type), t.status, t.breaker, shown(t.reason ?? '')]);
    for (const line of table(rows)) io.out(line);
    io.out(`overall: ${health.status}`);
    return health.tiers.some((t) => t.status === 'down') ? 1 : 0;
  } finally {
    await strata.close();
  }
};
