import { type Command, shown } from '../context.js';

/** `strata purge`: delete expired entries from every tier now; exit 1 when a tier could not. */
export const purge: Command = async ({ io, open }) => {
  const { strata } = await open();
  try {
    const { counts, failures } = await strata.purgeExpired();
    for (const tier of strata.tierNames) {
      const n = counts[tier];
      if (n !== undefined) io.out(`${shown(tier)}: purged ${n} expired entries`);
    }
    for (const f of failures) io.err(`strata purge: tier ${shown(f.tier)}: not purged (${shown(f.reason)})`);
    return failures.length > 0 ? 1 : 0;
  } finally {
    await strata.close();
  }
};
