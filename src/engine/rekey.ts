/**
 * Rekeying: moving a store's sealed entries to the active key (`strata rekey`, `rekey(strata)`
 * from `strata-cache/engine`).
 *
 * Each persistent tier's live entries are listed (Tier.entries) and every payload not sealed
 * under the active key is opened with the key it names, sealed again under the active key with
 * the same associated data, and written back by compare-and-set (Tier.replacePayload): only if
 * the tier still holds exactly the payload that was read. An entry the application deleted,
 * invalidated or overwrote meanwhile is left as the application left it, never brought back;
 * expiry and tags are the tier's own columns and do not change.
 *
 * Resumable by being idempotent: what is already under the active key is skipped, so running it
 * again after an interruption (a crash, `signal`, Ctrl-C) continues where it stopped, at the cost
 * of listing what is done. There is no progress file to keep.
 *
 * The semantic tier moves its own sealed text (prompt and question) with the payload, in the same
 * compare-and-set, to the same key set (handed to it as the call's sealer).
 *
 * What it cannot move, and says so: tiers without compare-and-set (MongoDB, a tier of your own
 * without replacePayload), entries sealed under a key the config does not have (a removed
 * key, a damaged payload: misses already), and the gateway's per-tenant entries (`t-...` keys,
 * derived from the callers' credentials, which are never stored): those keep opening while their
 * master key stays in `encryption.keys`, and are sealed under the active key when next stored.
 * Plain (unsealed) entries are sealed only with `acceptPlaintext`; without it they are misses
 * already and are left alone. Volatile tiers (memory) hold nothing at rest and are never sealed:
 * skipped.
 */
import { entryAad } from '../core/encryption/at-rest.js';
import { isSealed, Keyring, type Sealer, sealedKeyId } from '../core/encryption/keyring.js';
import { TENANT_KEY_PREFIX } from '../core/encryption/tenant.js';
import type { ListedEntry } from '../core/tier.js';
import { StrataConfigError } from '../errors.js';
import type { Strata } from './strata.js';

export interface RekeyOptions {
  /**
   * The key set: entries are moved to its active key, opened with any of its keys. Default: the
   * engine's own (its config's `encryption`).
   */
  keyring?: Sealer;
  /** Seal plain (never sealed) entries too, as `encryption.acceptPlaintext` lets them answer. */
  acceptPlaintext?: boolean;
  /** Only these tiers (default: every tier handed sealed payloads, i.e. all but volatile ones). */
  tiers?: readonly string[];
  /** Called after every `progressEvery` entries of a tier and when a tier is done. */
  onProgress?: (progress: RekeyTierReport) => void;
  progressEvery?: number;
  /** Stops between two entries; the report says it was stopped (run again to continue). */
  signal?: AbortSignal;
}

/** What one tier's pass did. */
export interface RekeyTierReport {
  tier: string;
  /** Entries listed. */
  scanned: number;
  /** Sealed again under the active key. */
  rekeyed: number;
  /** Already under the active key. */
  current: number;
  /** Changed or removed by the application between the read and the write: left as they are. */
  changed: number;
  /** Per-tenant entries of the gateway (need the caller's credential): left as they are. */
  tenant: number;
  /** Sealed under a key the config does not have, or that does not open: left as they are (misses). */
  unopenable: number;
  /** Plain entries left plain (acceptPlaintext is off: they are misses already). */
  plain: number;
  /** Why the pass could not run or did not finish (the tier failed, or cannot compare-and-set). */
  failure?: string;
  /** The pass ended early: `signal` aborted. */
  stopped?: boolean;
  done: boolean;
}

export interface RekeyReport {
  /** The key entries were moved to. */
  keyId: string;
  tiers: RekeyTierReport[];
  /** Every tier ran to its end, and each rekeyable entry is now under the active key (bar `changed` ones). */
  complete: boolean;
}

/**
 * Rewrites at most this many entries of a tier at once: enough to pipeline a network tier's round
 * trips, few enough to leave the backend to the application it serves.
 */
const IN_FLIGHT = 4;
/** A rewrite that fails (a timeout under load) is tried again after these pauses before the tier's pass stops. */
const RETRY_MS = [100, 500, 2_000];

export async function rekey(strata: Strata, options: RekeyOptions = {}): Promise<RekeyReport> {
  const keyring = options.keyring ?? strata.queries.sealer;
  if (!keyring)
    throw new StrataConfigError([
      { path: 'encryption', message: 'is required to rekey: it names the keys and the active one' },
    ]);
  const names = options.tiers ?? strata.queries.sealedTiers();
  const reports: RekeyTierReport[] = [];
  for (const tier of names) {
    if (options.signal?.aborted) break;
    reports.push(await rekeyTier(strata, tier, keyring, options));
  }
  const complete =
    reports.length === names.length && reports.every((r) => r.done && r.failure === undefined && !r.stopped);
  return { keyId: keyring.keyId, tiers: reports, complete };
}

async function rekeyTier(
  strata: Strata,
  tier: string,
  keyring: Sealer,
  options: RekeyOptions,
): Promise<RekeyTierReport> {
  const report: RekeyTierReport = {
    tier,
    scanned: 0,
    rekeyed: 0,
    current: 0,
    changed: 0,
    tenant: 0,
    unopenable: 0,
    plain: 0,
    done: false,
  };
  const every = options.progressEvery ?? 1_000;
  const progress = () => options.onProgress?.({ ...report });
  if (!strata.queries.able('replacePayload').includes(tier)) {
    report.failure = `tier ${tier} cannot rewrite an entry in place (no compare-and-set), so it cannot be rekeyed: clear it, or let its entries expire`;
    progress();
    return report;
  }
  const listing = strata.queries.storedEntries(tier);
  if (!listing) {
    report.failure = `no tier named ${tier}`;
    return report;
  }
  const inFlight = new Set<Promise<void>>();
  for await (const entry of listing) {
    if (options.signal?.aborted) {
      report.stopped = true;
      break;
    }
    report.scanned++;
    const rewrite = rewritten(entry, keyring, options.acceptPlaintext === true, report);
    if (rewrite !== undefined) {
      const write: Promise<void> = replaceWithRetries(strata, tier, entry, rewrite, keyring, options.signal)
        .then((outcome) => {
          if (!outcome.ok) report.failure ??= outcome.reason;
          else if (outcome.replaced) report.rekeyed++;
          else report.changed++;
        })
        .finally(() => inFlight.delete(write));
      inFlight.add(write);
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
    }
    if (report.failure !== undefined) break;
    if (report.scanned % every === 0) progress();
  }
  await Promise.all(inFlight);
  report.failure ??= listing.failure;
  report.done = report.failure === undefined && !report.stopped;
  progress();
  return report;
}

/**
 * One compare-and-set, tried again after a failure (a timeout while the backend is busy). A try
 * that timed out may still have landed: the next one then finds the payload changed (by this
 * rekey) and the entry is counted as changed, which is harmless.
 */
async function replaceWithRetries(
  strata: Strata,
  tier: string,
  entry: ListedEntry,
  payload: string,
  keyring: Sealer,
  signal: AbortSignal | undefined,
): ReturnType<Strata['queries']['replacePayload']> {
  let outcome = await strata.queries.replacePayload(tier, entry, entry.payload, payload, keyring);
  for (const ms of RETRY_MS) {
    if (outcome.ok || signal?.aborted) break;
    await new Promise((resolve) => setTimeout(resolve, ms));
    outcome = await strata.queries.replacePayload(tier, entry, entry.payload, payload, keyring);
  }
  return outcome;
}

/** The entry's payload sealed under the active key, or undefined when it is left as it is (counted). */
function rewritten(
  entry: ListedEntry,
  keyring: Sealer,
  acceptPlaintext: boolean,
  report: RekeyTierReport,
): string | undefined {
  const aad = entryAad(entry.namespace, entry.hash);
  if (!isSealed(entry.payload)) {
    if (!acceptPlaintext) {
      report.plain++;
      return undefined;
    }
    return keyring.seal(entry.payload, aad);
  }
  const id = sealedKeyId(entry.payload);
  if (id === keyring.keyId) {
    report.current++;
    return undefined;
  }
  const plain = keyring.open(entry.payload, aad);
  if (plain === undefined) {
    // A config key id may start with `t-` too; one this key set knows is not a tenant's.
    if (id?.startsWith(TENANT_KEY_PREFIX) && !(keyring instanceof Keyring && keyring.keyIds.includes(id)))
      report.tenant++;
    else report.unopenable++;
    return undefined;
  }
  return keyring.seal(plain, aad);
}
