/**
 * Strata, the engine: the tiers behind one config, with the lookup waterfall, write-through,
 * coalescing of concurrent misses, invalidation, statistics and events. `createStrata(config)`
 * (engine/create.ts) returns one; the adapters sit around it: LangChain's `StrataCache`
 * (langchain/, `createCache(strata)`), the gateway, the monitor and the CLI. Nothing here knows
 * LangChain: an answer is the stored-generation format (core/entry.ts), a key a CacheKey
 * (core/key.ts, `deriveKey(namespace, llmString, prompt)`).
 *
 * Every call is safe on the LLM path: a tier that fails is skipped, counted and said once; only
 * the erasures (delete, clear, invalidateTag) reject, with an IncompleteOperationError naming
 * the tiers that could not and retrying them.
 */

import type { EventEmitter } from 'node:events';
import type { Sealer } from '../core/encryption/keyring.js';
import type { StoredEntry, StoredGenerationData } from '../core/entry.js';
import type { CacheEvents, Hit, Logger } from '../core/events.js';
import type { CacheKey } from '../core/key.js';
import type { LookupReceiver } from '../core/lookup-run.js';
import type { LookupOptions, WriteOptions } from '../core/options.js';
import type { HealthReport, LatencyHistograms, StatsReport, TierQueries } from '../core/reports.js';
import type { StaleOptions } from '../core/stale.js';
import type { Tier, TierCall } from '../core/tier.js';
import type { TierFailure } from '../errors.js';

export interface Strata {
  /** hit, miss, set, backfill, evict, breaker, error, warning (core/events.ts). */
  readonly events: EventEmitter<CacheEvents>;
  /** Reading what the tiers hold (search, daily statistics, listings, one key) under the same policy. */
  readonly queries: TierQueries;
  /** The config's namespace: where an adapter keys a call that names none. */
  readonly namespace: string;
  /** The config's lifetime of an entry stored with no TTL of its own; null = never expire. */
  readonly defaultTtlSeconds: number | null;
  /** The config's stale-if-error grace in seconds (core/stale.ts); 0: none. */
  readonly staleIfErrorSeconds: number;
  /** Where the engine's warnings go (the adapters' too). */
  readonly logger: Logger;
  /** The tiers' names, fastest first. */
  readonly tierNames: string[];
  /** The engine's clock, in ms since the epoch. */
  now(): number;

  /** The first tier holding a live, usable entry for the key answers; concurrent misses of one key wait for the first. */
  lookup(key: CacheKey, options?: LookupOptions): Promise<Hit | undefined>;
  /**
   * The same lookup, its outcome told to `receiver` (core/lookup-run.ts) instead of through a
   * promise: an adapter that builds its own answer from the hit makes one promise per call.
   */
  lookupInto(key: CacheKey, options: LookupOptions | undefined, receiver: LookupReceiver): void;
  /**
   * For an edge whose model call failed (429, 5xx, timeout, connection refused or reset): the
   * key's expired answer still kept for stale-if-error, marked `stale` and counted; undefined
   * when none is (core/stale.ts).
   */
  lookupStale(key: CacheKey, options?: StaleOptions): Promise<Hit | undefined>;
  /** Stores an answer in every tier, and hands it to whoever waits for this key. */
  update(key: CacheKey, gens: StoredGenerationData[], write?: WriteOptions): Promise<void>;
  /** The caller that missed this key will not store an answer: whoever waits for it stops waiting. */
  release(key: CacheKey): void;
  /** Stores an already-encoded entry (import), keeping its timestamps; returns the tiers that took it. */
  restore(key: CacheKey, stored: StoredEntry, sealer?: Sealer): Promise<string[]>;

  /** Removes one key from every tier; resolves with how many tiers held it. */
  delete(key: CacheKey): Promise<number>;
  /** Removes every entry of one namespace (undefined: of every namespace); resolves with how many. */
  clear(namespace?: string): Promise<number>;
  /** Removes every entry with the tag, in one namespace (undefined: in every namespace). */
  invalidateTag(tag: string, namespace?: string): Promise<number>;
  /**
   * Takes the entry that answered this key out of similarity matching; returns how many tiers did.
   * `call.sealer`: the per-call keys the entry was stored under (the gateway's per-tenant keys).
   */
  markBad(key: CacheKey, call?: TierCall): Promise<number>;
  /**
   * Records that the entry which answered this key by similarity was right (a label for a tier
   * with `maxErrorRate`); returns how many tiers recorded it.
   */
  markGood(key: CacheKey, call?: TierCall): Promise<number>;
  /** Deletes expired entries in every tier now: how many each removed, and the tiers that could not. */
  purgeExpired(): Promise<{ counts: Record<string, number>; failures: TierFailure[] }>;
  /** Makes writes a tier holds in memory reach its store now; names the tiers where they could not. */
  flushWrites(): Promise<TierFailure[]>;

  /** Counters, latencies and, unless `store: false`, what each tier holds. */
  stats(options?: { store?: boolean }): Promise<StatsReport>;
  /** Latency histograms as cumulative counts at `boundsMs` (for Prometheus). */
  latencyHistograms(boundsMs: readonly number[]): LatencyHistograms;
  health(): Promise<HealthReport>;

  /**
   * For adapters: a call the adapter refused because it could not establish which model answers.
   * Nothing is read or written; counted as a lookup and a miss when `lookup`, said once per `kind`.
   */
  refuseUnidentified(kind: string, message: string, lookup: boolean): void;
  /** For adapters: hits found but not served (the adapter could not place them); counted as misses, said once. */
  withholdHits(n: number): void;

  /** A raw driver, bypassing the failure policy: for tests that plant or inspect bytes. */
  tier(name: string): Tier | undefined;
  /** The raw drivers, in order (tests only, as `tier`). */
  readonly tiers: Tier[];

  /** Runs `fn` first when the engine closes, before the tiers close. */
  onClose(fn: () => Promise<void>): void;
  /** Closes the tiers: every adapter over this engine stops working. */
  close(): Promise<void>;
}

/** An engine, or an adapter over one that names it (a StrataCache: `cache.strata`). */
export type StrataSource = Strata | { readonly strata: Strata };

export function engineOf(source: StrataSource): Strata {
  return 'strata' in source ? source.strata : source;
}
