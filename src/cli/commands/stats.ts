import { type Command, formatBytes, table } from '../context.js';

/** `strata stats [--json]`: what each tier holds (and, within this process, what it served). */
export const stats: Command = async ({ flags, io, open }) => {
  const { cache, source } = await open();
  try {
    const report = await cache.stats();
    if (flags.json) {
      io.out(JSON.stringify(report, null, 2));
      return 0;
    }
    io.out(`config: ${source}`);
    const rows: Array<Array<string | number>> = [
      ['tier', 'type', 'entries', 'bytes', 'breaker', 'namespaces'],
    ];
    for (const t of report.tiers) {
      const namespaces = t.store?.namespaces;
      rows.push([
        t.name,
        t.type,
        t.store?.entries ?? '?',
        t.store ? formatBytes(t.store.bytes) : '?',
        t.breaker,
        typeof namespaces === 'object'
          ? Object.entries(namespaces)
              .map(([ns, n]) => `${ns}=${n}`)
              .join(' ')
          : '',
      ]);
    }
    for (const line of table(rows)) io.out(line);
    return 0;
  } finally {
    await cache.close();
  }
};
