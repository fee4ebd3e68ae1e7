import { type Command, shown } from '../context.js';

/** `strata purge`: delete expired entries from every tier now; exit 1 when a tier could not. */
export const purge: Command = async ({ io, open }) => {
  const { cache } = await open();
  try {
    const { counts, failures } = await cache.internals.purgeExpired();
    for (const tier of cache.internals.tierNames) {
      const n = counts[tier];
      if (n !== undefined) io.out(`${shown(tier)}: purged ${n} expired entries`);
    }
    for (const f of failures) io.err(`strata purge: tier ${shown(f.tier)}: not purged (${shown(f.reason)})`);
    return failures.length > 0 ? 1 : 0;
  } finally {
    await cache.close();
  }
};
