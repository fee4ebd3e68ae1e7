import { type Command, shown } from '../context.js';
import { createProgress } from '../progress.js';

/** `strata purge`: delete expired entries from every tier now; exit 1 when a tier could not. */
export const purge: Command = async ({ io, open }) => {
  const { strata } = await open();
  try {
    // One call with no count until it ends: the time it has taken, so a long purge is not silent.
    // Its summary is the per-tier counts below.
    const waiting = createProgress(io, { label: 'purging expired entries', heartbeat: true, summary: false });
    let result: Awaited<ReturnType<typeof strata.purgeExpired>>;
    try {
      result = await strata.purgeExpired();
    } finally {
      waiting.done();
    }
    const { counts, failures } = result;
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
