/**
 * The Tier interface: the one seam the manager knows every backend by.
 *
 * A driver is a plain, honest client of its backend. It does not decode payloads, check
 * keys, time itself out or swallow errors: the manager does all of that once for every tier.
 * A method may return synchronously (memory, SQLite); the manager only arms a timeout for
 * results that are promises, since synchronous work cannot be interrupted anyway.
 */
import type { BusTransport } from './bus.js';
import type { Sealer } from './encryption/keyring.js';
import type { StoredEntry } from './entry.js';
import type { CacheKey } from './key.js';

export type MaybePromise<T> = T | Promise<T>;

/** One stored entry as a tier lists it (export, inspection): its key and its encoded payload. */
export interface ListedEntry {
  readonly namespace: string;
  readonly hash: string;
  readonly payload: string;
  readonly accessCount?: number;
}

/** Which entry: what a listing names it by. */
export type EntryRef = Pick<ListedEntry, 'namespace' | 'hash'>;

export interface TierStats {
  entries: number;
  bytes: number;
  /** The tier's configured bounds, when it has them (the `memory_full` alert compares `bytes` with `maxBytes`). */
  maxEntries?: number;
  maxBytes?: number;
  /** A semantic tier with `maxErrorRate`: what it has learned, per namespace (tiers/semantic/bound/). */
  bound?: Record<string, NamespaceBound>;
  /** Anything else a driver wants to report (evictions, per-namespace counts, ...). */
  [extra: string]: number | Record<string, number> | Record<string, NamespaceBound> | undefined;
}

/** Where a semantic tier's labels come from (tiers/semantic/bound/labels.ts says what each is). */
export type LabelSource = 'free' | 'exploration' | 'feedback' | 'background';
export const LABEL_SOURCES: readonly LabelSource[] = ['free', 'exploration', 'feedback', 'background'];

/** One namespace of a semantic tier that keeps its wrong hits under a bound (`maxErrorRate`). */
export interface NamespaceBound {
  /** The bound δ: at most this share of semantic hits may be wrong. */
  maxErrorRate: number;
  /**
   * The wrong share among labelled candidates the tier would serve now, over the namespace's
   * models, with its interval (one-sided 95% at each end: `errorHigh` is the bound the decision
   * holds under `maxErrorRate`); null while nothing is served (no evidence yet).
   */
  errorRate: number | null;
  errorLow: number | null;
  errorHigh: number | null;
  /** Lookups that reached the tier in this namespace, and those it answered, since start. */
  lookups: number;
  hits: number;
  /** Labels learned from, by source, since start (this process's and, on a shared store, the fleet's). */
  labels: Record<LabelSource, number>;
  /** Candidate hits sent to the model instead, to check them, since start (this process). */
  explorations: number;
  /** The cap on explorations, as a share of lookups. */
  explorationBudget: number;
  /** The lowest similarity from which the namespace's shared evidence serves, over its models (entries may differ); null: none yet. */
  cutoff: number | null;
}

export type TierStatus = 'up' | 'degraded' | 'down';

export interface TierHealth {
  status: TierStatus;
  reason?: string;
}

export interface Tier {
  /** Label in stats, events and metrics ('memory', 'sqlite', 'redis-eu', ...). */
  readonly name: string;
  /** The tier's config type ('memory', 'sqlite', ...). */
  readonly type: string;
  /** True for a tier private to this process (memory): other instances' invalidations must reach it. */
  readonly local?: boolean;
  /** A tier shared by several instances may carry the invalidation bus between them. */
  readonly bus?: BusTransport;
  /** A shared tier may arbitrate which instance computes a missing key (distributed coalescing). */
  readonly lease?: Lease;
  /** A shared tier may hold every process's counters, so a dashboard sees the fleet (core/fleet.ts). */
  readonly counters?: CounterStore;
  /** A tier that indexes prompt text may search it (`strata search`). */
  search?(text: string, limit?: number): Promise<SearchResult[]>;
  /** A tier that persists daily statistics (MySQL's stats table) reads back the last `days` days. */
  daily?(days: number): Promise<DailyStats[]>;
  /** A similarity tier takes the entry that answered this key out of matching for good. */
  markBad?(key: CacheKey): MaybePromise<boolean>;
  /**
   * A similarity tier records that the entry which answered this key was right (a label for a
   * tier that learns when to serve, `maxErrorRate`); false when it knows of no such answer.
   */
  markGood?(key: CacheKey): MaybePromise<boolean>;
  /**
   * Returns the stored payload; undefined or null when absent or expired (null: what most
   * clients return). A similarity tier returns the entry of a similar prompt as a SimilarMatch.
   */
  get(key: CacheKey, call?: TierCall): MaybePromise<string | SimilarMatch | null | undefined>;
  /** Stores an entry; returns false when the tier refuses it (too large for its budget). */
  set(key: CacheKey, entry: StoredEntry, call?: TierCall): MaybePromise<boolean>;
  delete(key: CacheKey): MaybePromise<boolean>;
  /** Removes every entry of one namespace, or of all namespaces; returns how many. */
  clear(namespace?: string): MaybePromise<number>;
  invalidateTag(tag: string, namespace?: string): MaybePromise<number>;
  /** Removes expired entries now; returns how many. */
  purgeExpired(): MaybePromise<number>;
  /** Every live entry, for export and inspection. */
  entries(namespace?: string): AsyncIterable<ListedEntry>;
  /**
   * Compare-and-set of one entry's payload (`strata rekey`): replaces it with `payload` only if
   * the tier still holds exactly `expected` for that key, keeping its expiry and tags; a column
   * holding the prompt in clear is emptied. False when the entry is gone or was rewritten
   * meanwhile, so a rewrite never brings back what the application deleted or replaced. A tier
   * without it cannot be rekeyed. `call.sealer` is the key set the payload was moved to, for a
   * tier that seals text of its own (the semantic tier moves it in the same write).
   */
  replacePayload?(entry: EntryRef, expected: string, payload: string, call?: TierCall): MaybePromise<boolean>;
  stats(): MaybePromise<TierStats>;
  health(): MaybePromise<TierHealth>;
  close(): MaybePromise<void>;
  /**
   * How long close() may take by design: SQLite waits up to its busyTimeoutMs for writes queued
   * behind another process's lock. The cache then waits that long (and a little more) rather
   * than its usual timeoutMs, so the tier can land them or say which it could not.
   */
  readonly closeWithinMs?: number;
}

/**
 * What one call brings beside its key, for the rare tier that needs it: the keys this call's
 * entries are sealed under when they are not the config's (the gateway's per-tenant keys), for a
 * tier that seals text of its own beside the payload (the semantic tier's question text).
 * Payloads themselves are sealed and opened by the manager; most tiers ignore this.
 */
export interface TierCall {
  readonly sealer?: Sealer;
}

/** One day of one tier's lookups, as persisted. */
/** A process's counters not reported for this long are no longer summed (and writers delete them). */
export const FLEET_RETENTION_MS = 24 * 3_600_000;
/** A counter row longer than this is not worth reading (a snapshot is a few KB): skipped by readers. */
export const FLEET_ROW_MAX_CHARS = 1 << 20;

/**
 * Named JSON rows shared by the processes of a cache, each kept a day: every process's counters
 * for `strata serve` to sum (core/fleet.ts, one row per process, replaced at every report), and
 * the dashboard's closed 5-minute buckets (monitor/history-store.ts, `history:<end>`). Readers
 * keep the rows of their own shape and skip the others.
 */
export interface CounterStore {
  /** Replaces the row named `process` with `snapshot` (JSON) taken at `at` (epoch ms); drops rows older than a day. */
  publish(process: string, snapshot: string, at: number): MaybePromise<void>;
  /** Every row reported at or after `since` (epoch ms); one longer than FLEET_ROW_MAX_CHARS may come back empty. */
  read(since: number): MaybePromise<string[]>;
}

export interface DailyStats {
  /** YYYY-MM-DD (the database server's date). */
  day: string;
  tier: string;
  hits: number;
  misses: number;
  avgLatencyMs: number;
}

/** One cached prompt found by text search. */
export interface SearchResult {
  hash: string;
  namespace: string;
  llmString: string;
  prompt: string;
  createdAt: number;
  accessCount: number;
}

/** What a similarity tier returns: another prompt's entry, and how close that prompt is. */
export interface SimilarMatch {
  readonly payload: string;
  /** Key hash of the entry that matched (not the lookup's). */
  readonly hash: string;
  /** Cosine similarity of the two prompts; undefined when the backend does not report it (GPTCache). */
  readonly similarity?: number;
  readonly matchedPrompt: string;
}

/**
 * A short, exclusive claim on one key across instances: the holder calls the LLM, the others
 * wait for its answer to land in the tier.
 */
export interface Lease {
  /** True when this instance now holds the claim; false when another instance does. */
  acquire(key: CacheKey, ttlMs: number): Promise<boolean>;
  /** Gives up a claim this instance holds (no-op otherwise). */
  release(key: CacheKey): Promise<void>;
}

/** Lets a tier tell the manager about evictions it decides on its own (LRU, byte budget). */
export type EvictionListener = (event: {
  tier: string;
  hash: string;
  reason: 'lru' | 'size' | 'expired';
}) => void;

export function isPromiseLike<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
