import { ephemeralDigestKey } from '../../core/secrets.js';
import type { Strata } from '../../engine/strata.js';
import { IncompleteOperationError, type TierFailure } from '../../errors.js';
import { tagsOfKey } from '../../proxy/tenancy.js';
import { type Command, type Io, shown, stringFlag } from '../context.js';

/**
 * `strata clear --namespace NS | --tag TAG | --all | --tenant-key-env VAR`: one of them is
 * required, so nothing is cleared by accident. A tier that could not do it (down, locked,
 * failing) is named with the reason and the exit status is 1: its entries are still there.
 *
 * `--tenant-key-env VAR` clears what one gateway caller stored: every entry stored for a request
 * that presented the key in the environment variable VAR (named, so the key is in no shell history
 * or process list, and never printed), wherever it sent it and whatever it sent beside it. The
 * gateway tags each entry with a keyed digest of every secret its request presented (tenancy.ts
 * `keyTags`), so the command needs the gateway's digest key (`STRATA_DIGEST_KEY`, or the variable
 * `digestKeyEnv` names). A running gateway's memory tier is a copy of its own: it keeps what it
 * holds until it restarts or the entries expire, unless the tiers share a bus.
 */
export const clear: Command = async ({ flags, io, open }) => {
  const namespace = stringFlag(flags, 'namespace');
  const tag = stringFlag(flags, 'tag');
  const keyEnv = stringFlag(flags, 'tenant-key-env');
  if (keyEnv !== undefined) {
    if (namespace !== undefined || tag !== undefined || flags.all) {
      io.err('strata clear: --tenant-key-env clears one tenant: give it without --namespace, --tag or --all');
      return 2;
    }
    const key = process.env[keyEnv];
    if (key === undefined || key.trim() === '') {
      io.err(
        `strata clear: --tenant-key-env ${shown(keyEnv)}: the environment variable ${shown(keyEnv)} is not set or empty`,
      );
      return 2;
    }
    return clearTenant(io, open, key);
  }
  if (!namespace && !tag && !flags.all) {
    io.err(
      'strata clear: say what to clear: --namespace NS, --tag TAG (within --namespace, or all namespaces), --all, or --tenant-key-env VAR',
    );
    return 2;
  }
  const { strata, namespace: own } = await open();
  try {
    let removed: number;
    try {
      if (tag) removed = await strata.invalidateTag(tag, namespace ? own : undefined);
      else if (flags.all) removed = await strata.clear();
      else removed = await strata.clear(own);
    } catch (error) {
      if (!(error instanceof IncompleteOperationError)) throw error;
      return incomplete(io, error.removed, error.failures);
    }
    io.out(`removed ${removed} entries (counted across tiers)`);
    return 0;
  } finally {
    await strata.close();
  }
};

async function clearTenant(io: Io, open: Parameters<Command>[0]['open'], key: string): Promise<number> {
  const { strata, config } = await open();
  try {
    // Without the gateway's digest key this process has a random one: the namespaces it computes
    // would match nothing, and "removed 0" would be a lie by omission.
    const ephemeral = ephemeralDigestKey();
    if (ephemeral !== undefined) {
      io.err(
        `strata clear: --tenant-key-env: a tenant is a keyed digest under the gateway's digest key, and here ${shown(ephemeral)}: run it with the gateway's ${shown(config.digestKeyEnv)}`,
      );
      return 2;
    }
    return await removeTagged(io, strata, tagsOfKey(key));
  } finally {
    await strata.close();
  }
}

/** Invalidates each tag in every namespace; a tier that failed on any of them is named once, with its first reason. */
async function removeTagged(io: Io, strata: Strata, tags: readonly string[]): Promise<number> {
  let removed = 0;
  const failures = new Map<string, TierFailure>();
  for (const tag of tags) {
    try {
      removed += await strata.invalidateTag(tag);
    } catch (error) {
      if (!(error instanceof IncompleteOperationError)) throw error;
      removed += error.removed;
      for (const f of error.failures) if (!failures.has(f.tier)) failures.set(f.tier, f);
    }
  }
  if (failures.size > 0) return incomplete(io, removed, [...failures.values()]);
  io.out(`removed ${removed} entries stored for that key (counted across tiers)`);
  return 0;
}

function incomplete(io: Io, removed: number, failures: readonly TierFailure[]): number {
  io.out(`removed ${removed} entries (counted across the tiers that could do it)`);
  for (const f of failures)
    io.err(`strata clear: tier ${shown(f.tier)}: not done, its entries are still there (${shown(f.reason)})`);
  io.err('strata clear: run it again once those tiers are available');
  return 1;
}
