import { type Command, stringFlag } from '../context.js';

/** `strata clear --namespace NS | --tag TAG | --all`: one of them is required, so nothing is cleared by accident. */
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
    if (tag) removed = await cache.invalidateTag(tag, { allNamespaces: !namespace });
    else if (flags.all) removed = await cache.clear({ all: true });
    else removed = await cache.clear();
    io.out(`removed ${removed} entries (counted across tiers)`);
    return 0;
  } finally {
    await cache.close();
  }
};
