/**
 * The Tier interface: the one seam the manager knows every backend by.
 *
 * A driver is a plain, honest client of its backend. It does not decode payloads, check
 * keys, time itself out or swallow errors: the manager does all of that once for every tier.
 * A method may return synchronously (memory, SQLite); the manager only arms a timeout for
 * results that are promises, since synchronous work cannot be interrupted anyway.
 */
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

export interface TierStats {
  entries: number;
  bytes: number;
  /** Anything else a driver wants to report (evictions, per-namespace counts, ...). */
  [extra: string]: number | Record<string, number>;
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
  /** Returns the stored payload, or undefined when absent or expired. */
  get(key: CacheKey): MaybePromise<string | undefined>;
  /** Stores an entry; returns false when the tier refuses it (too large for its budget). */
  set(key: CacheKey, entry: StoredEntry): MaybePromise<boolean>;
  delete(key: CacheKey): MaybePromise<boolean>;
  /** Removes every entry of one namespace, or of all namespaces; returns how many. */
  clear(namespace?: string): MaybePromise<number>;
  invalidateTag(tag: string, namespace?: string): MaybePromise<number>;
  /** Removes expired entries now; returns how many. */
  purgeExpired(): MaybePromise<number>;
  /** Every live entry, for export and inspection. */
  entries(namespace?: string): AsyncIterable<ListedEntry>;
  stats(): MaybePromise<TierStats>;
  health(): MaybePromise<TierHealth>;
  close(): MaybePromise<void>;
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
