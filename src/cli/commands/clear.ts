import { IncompleteOperationError } from '../../errors.js';
import { type Command, shown, stringFlag } from '../context.js';

/**
 * `strata clear --namespace NS | --tag TAG | --all`: one of them is required, so nothing is
 * cleared by accident. A tier that could not do it (down, locked, failing) is named with the
 * reason and the exit status is 1: its entries are still there.
 */
export const clear: Command = async ({ flags, io, open }) => {
  const namespace = stringFlag(flags, 'namespace');
  const tag = stringFlag(flags, 'tag');
  if (!namespace && !tag && !flags.all) {
    io.err(
      'strata clear: say what to clear: --namespace NS, --tag TAG (within --namespace, or all namespaces), or --all',
    );
    return 2;
  }
  const { cache } = await open();
  try {
    let removed: number;
    try {
      if (tag) removed = await cache.invalidateTag(tag, { allNamespaces: !namespace });
      else if (flags.all) removed = await cache.clear({ all: true });
      else removed = await cache.clear();
    } catch (error) {
      if (!(error instanceof IncompleteOperationError)) throw error;
      io.out(`removed ${error.removed} entries (counted across the tiers that could do it)`);
      for (const f of error.failures) {
        io.err(
          `strata clear: tier ${shown(f.tier)}: not done, its entries are still there (${shown(f.reason)})`,
        );
      }
      io.err('strata clear: run it again once those tiers are available');
      return 1;
    }
    io.out(`removed ${removed} entries (counted across tiers)`);
    return 0;
  } finally {
    await cache.close();
  }
};
