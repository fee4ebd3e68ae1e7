import type { Command } from '../context.js';

/** `strata purge`: delete expired entries from every tier now. */
export const purge: Command = async ({ io, open }) => {
  const { cache } = await open();
  try {
    const counts = await cache.internals.purgeExpired();
    for (const [tier, n] of Object.entries(counts)) io.out(`${tier}: purged ${n} expired entries`);
    return 0;
  } finally {
    await cache.close();
  }
};
