/**
 * One tier behind the failure policy: every call the manager makes to a driver goes through its
 * GuardedTier, which bounds it by `timeoutMs`, consults and feeds the circuit breaker, counts it,
 * and turns any error into "no answer" (logged once per burst, reported through `onError`).
 * A driver therefore never needs error handling of its own, and nothing it does reaches the
 * caller of a cache operation.
 */
import { performance } from 'node:perf_hooks';
import { TierTimeoutError } from '../errors.js';
import { type BreakerOptions, type BreakerState, CircuitBreaker } from './breaker.js';
import type { Clock } from './clock.js';
import { cancelDeadline, Deadlines, type Expirable } from './deadlines.js';
import { keyForSealedTier } from './encryption/at-rest.js';
import type { Sealer } from './encryption/keyring.js';
import { earliestExpiry, type StoredEntry, withExpiry } from './entry.js';
import { errorOf } from './error-of.js';
import type { CacheKey } from './key.js';
import { TierCounters } from './stats.js';
import {
  type EvictionListener,
  isPromiseLike,
  type MaybePromise,
  type SimilarMatch,
  type Tier,
} from './tier.js';
import type { TierNote } from './tracing.js';

export interface ManagedTierOptions {
  /** Upper bound on how long this tier keeps an entry, in ms; never extends an entry's own expiry. */
  ttlMs?: number;
  timeoutMs: number;
  breaker: BreakerOptions;
  /** Under encryption, payloads are sealed before this tier stores them (every tier but a volatile one; encryption/at-rest.ts). */
  sealed?: boolean;
  /** Encryption is on (the config's keys): a sealed tier is told the llm string's digest only (keyForSealedTier). */
  encrypted?: boolean;
  /** The tier answers by similarity (its definition's capability): an `exact` key never reaches it. */
  similarity?: boolean;
}

/** What a tier read can yield: a payload, another prompt's entry, or nothing. */
export type Read = string | SimilarMatch | undefined;

/** What `readInto` returns for a read that will settle later, through its waiter. */
export const PENDING: unique symbol = Symbol('pending read');
export type Pending = typeof PENDING;

/**
 * Who waits on an asynchronous read (a lookup in flight): told its outcome once, by
 * `readSettled` or, at the deadline, by `expired()` (the timeout is counted by then).
 */
export interface ReadWaiter extends Expirable {
  readSettled(read: Read): void;
}

/** A read awaited as a promise, for the callers off the hit path. */
class PromisedRead implements ReadWaiter {
  armed = 0;
  private resolve: ((read: Read) => void) | undefined;
  private settled: { read: Read } | undefined;

  constructor(private readonly note: TierNote | undefined) {}

  promise(): Promise<Read> {
    return new Promise((resolve) => {
      if (this.settled) resolve(this.settled.read);
      else this.resolve = resolve;
    });
  }

  readSettled(read: Read): void {
    if (this.resolve) this.resolve(read);
    else this.settled = { read };
  }

  expired(): void {
    if (this.note) this.note.failure = 'timeout';
    this.readSettled(undefined);
  }
}

/** Where a guarded tier reports to: the manager's clock, logger and events. */
export interface TierPolicy {
  clock: Clock;
  warn(message: string): void;
  onError(tier: string, op: string, error: Error): void;
  onBreaker(tier: string, from: BreakerState, to: BreakerState): void;
  onEvict(event: { tier: string; hash: string; reason: string }): void;
  /** An error the tier's client reported outside any call (a socket reset, a failover). */
  onClientError(tier: string, error: Error): void;
  /** After close, failures are still counted but no longer logged. */
  closed(): boolean;
}

/** Shortest gap between two failure log lines of one tier. */
const RELOG_AFTER_MS = 60_000;
/** A tier's own close deadline (closeWithinMs) gets this much more before close() times out. */
const CLOSE_MARGIN_MS = 1_000;

export class GuardedTier {
  readonly name: string;
  readonly ttlMs: number | undefined;
  readonly timeoutMs: number;
  /** Whether, under encryption, this tier is handed sealed payloads (encryption/at-rest.ts). */
  readonly sealed: boolean;
  private readonly encrypted: boolean;
  /** Answers by similarity: keys marked `exact` are neither read from it nor written to it, nor counted. */
  readonly similarity: boolean;
  readonly breaker: CircuitBreaker;
  readonly counters = new TierCounters();
  /**
   * Namespaces with an erasure (clear, invalidateTag, delete) this tier could not run yet, and how
   * many; the key undefined stands for every namespace. The manager keeps it (it retries them);
   * while one is pending, reads of what it covers from this tier are misses, and writes of it are
   * refused: the retry would remove them after this tier had acknowledged them.
   */
  readonly erasing = new Map<string | undefined, number>();
  /** True while a failure burst is in progress, so it is logged once. */
  private failing = false;
  /** When a failure of this tier was last logged (performance.now()). */
  private loggedAt: number | undefined;
  /** Calls nobody awaits (backfills, deletes of corrupt entries): close() waits for them. */
  private readonly unawaited = new Set<Promise<unknown>>();
  /** The deadlines of this tier's pending reads, and of its other pending calls (no timer per call). */
  private readonly readDeadlines: Deadlines;
  private readonly deadlines: Deadlines;

  constructor(
    readonly tier: Tier,
    options: ManagedTierOptions,
    private readonly policy: TierPolicy,
  ) {
    this.name = tier.name;
    this.ttlMs = options.ttlMs;
    this.timeoutMs = options.timeoutMs;
    this.sealed = options.sealed === true;
    this.encrypted = options.encrypted === true;
    this.similarity = options.similarity === true;
    this.readDeadlines = new Deadlines(options.timeoutMs, () =>
      this.failed('get', new TierTimeoutError(this.name, 'get', this.timeoutMs)),
    );
    this.deadlines = new Deadlines(options.timeoutMs);
    this.breaker = new CircuitBreaker(options.breaker, policy.clock, (from, to) => {
      if (to === 'open' && from === 'closed') {
        policy.warn(`[strata] tier ${tier.name} is down; skipping it until a probe succeeds`);
      } else if (to === 'closed') {
        policy.warn(`[strata] tier ${tier.name} recovered`);
      }
      policy.onBreaker(tier.name, from, to);
    });
  }

  /**
   * One read, for a lookup in flight (`waiter`). Not async, because it is the hit path: a
   * synchronous tier (memory, SQLite) answers here and costs no promise; an asynchronous one
   * returns PENDING and tells `waiter.readSettled` once, with its answer, with undefined for a
   * failure, or through `waiter.expired()` at its deadline (one sweeper per tier, no timer and no
   * promise of ours per call: see deadlines.ts). `waiter.readSettled` must not throw.
   */
  readInto(
    key: CacheKey,
    sealer: Sealer | undefined,
    note: TierNote | undefined,
    waiter: ReadWaiter,
  ): Read | Pending {
    // An exact-only key (embedding vectors) never reaches a tier that matches by similarity.
    if (key.exact && this.similarity) {
      if (note) note.failure = 'skipped';
      return undefined;
    }
    if (this.pendingErasure(key.namespace) || !this.breaker.allow()) {
      this.counters.skipped++;
      if (note) note.failure = 'skipped';
      return undefined;
    }
    const start = performance.now();
    let result: MaybePromise<Read | null>;
    try {
      // A call's own keys (encryption/at-rest.ts), for a tier that seals text of its own.
      const told = this.keyTold(key, sealer);
      result = sealer ? this.tier.get(told, { sealer }) : this.tier.get(told);
    } catch (error) {
      this.failed('get', error);
      if (note) note.failure = 'error';
      return undefined;
    }
    if (!isPromiseLike(result)) return this.afterRead(start, result);
    // On expiry the queue counts the timeout and the waiter takes it as a miss.
    const token = this.readDeadlines.add(start, waiter);
    result.then(
      (payload) => {
        if (cancelDeadline(waiter, token)) waiter.readSettled(this.afterRead(start, payload));
      },
      (error: unknown) => {
        if (!cancelDeadline(waiter, token)) return;
        this.failed('get', error);
        if (note) note.failure = 'error';
        waiter.readSettled(undefined);
      },
    );
    return PENDING;
  }

  /** One read as a value or a promise of one (lease waits, stale-if-error: off the hit path). */
  read(key: CacheKey, sealer?: Sealer, note?: TierNote): MaybePromise<Read> {
    const waiter = new PromisedRead(note);
    const read = this.readInto(key, sealer, note, waiter);
    return read === PENDING ? waiter.promise() : read;
  }

  /** One write, capped to this tier's TTL; false when it was skipped, refused or failed. */
  async write(
    key: CacheKey,
    stored: StoredEntry,
    now: number,
    sealer?: Sealer,
    note?: TierNote,
  ): Promise<boolean> {
    if (key.exact && this.similarity) {
      if (note) note.failure = 'skipped';
      return false;
    }
    const expiresAt =
      this.ttlMs === undefined ? stored.expiresAt : earliestExpiry(stored.expiresAt, now + this.ttlMs);
    if (expiresAt !== null && expiresAt <= now) return false;
    if (this.pendingErasure(key.namespace) || !this.breaker.allow()) {
      this.counters.skipped++;
      if (note) note.failure = 'skipped';
      return false;
    }
    const start = performance.now();
    try {
      const entry = withExpiry(stored, expiresAt);
      const told = this.keyTold(key, sealer);
      const result = sealer ? this.tier.set(told, entry, { sealer }) : this.tier.set(told, entry);
      const accepted = isPromiseLike(result) ? await this.bounded('set', result) : result;
      this.succeeded();
      this.counters.setLatency.record(performance.now() - start);
      if (accepted) this.counters.sets++;
      else {
        this.counters.refused++;
        if (note) note.failure = 'refused';
      }
      return accepted;
    } catch (error) {
      this.failed('set', error);
      if (note) note.failure = error instanceof TierTimeoutError ? 'timeout' : 'error';
      return false;
    }
  }

  /** Any other operation: its result, or undefined when it failed or timed out (counted). */
  async run<T>(op: string, fn: (tier: Tier) => MaybePromise<T>): Promise<T | undefined> {
    try {
      const result = fn(this.tier);
      const value = isPromiseLike(result) ? await this.bounded(op, result) : result;
      this.succeeded();
      return value;
    } catch (error) {
      this.failed(op, error);
      return undefined;
    }
  }

  /**
   * The tier's close(), bounded by its own close deadline plus a margin when it declares one
   * (Tier.closeWithinMs), else by timeoutMs. A failure is counted and said, like any call's.
   */
  async close(): Promise<void> {
    const limitMs = Math.max(this.timeoutMs, (this.tier.closeWithinMs ?? 0) + CLOSE_MARGIN_MS);
    let timer: NodeJS.Timeout | undefined;
    try {
      const closing = this.tier.close();
      if (isPromiseLike(closing)) {
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new TierTimeoutError(this.name, 'close', limitMs)), limitMs);
        });
        await Promise.race([closing, timedOut]);
      }
      this.succeeded();
    } catch (error) {
      this.failed('close', error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Fire and forget (deletes of corrupt entries, invalidations from other instances); close() waits for it. */
  background(op: string, fn: (tier: Tier) => MaybePromise<unknown>): void {
    try {
      const result = fn(this.tier);
      if (isPromiseLike(result))
        this.track(result.then(undefined, (error: unknown) => this.failed(op, error)));
    } catch (error) {
      this.failed(op, error);
    }
  }

  /** Remembers a call nobody awaits until it settles. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.unawaited.add(promise);
    const forget = () => this.unawaited.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** Settles when every call nobody awaited has (close() calls it before closing the tier). */
  async drain(): Promise<void> {
    while (this.unawaited.size > 0) await Promise.allSettled([...this.unawaited]);
  }

  /** `promise`, or a TierTimeoutError once `timeoutMs` has passed. */
  bounded<T>(op: string, promise: Promise<T>): Promise<T> {
    const deadlines = this.deadlines;
    return new Promise<T>((resolve, reject) => {
      const waiter: Expirable = {
        armed: 0,
        expired: () => reject(new TierTimeoutError(this.name, op, this.timeoutMs)),
      };
      const token = deadlines.add(performance.now(), waiter);
      promise.then(
        (value) => {
          cancelDeadline(waiter, token);
          resolve(value);
        },
        (error: unknown) => {
          cancelDeadline(waiter, token);
          reject(error);
        },
      );
    });
  }

  /** Whether an erasure this tier could not run yet covers the namespace. */
  /** The key as this tier is told it: under encryption, a sealed tier gets the llm string's digest. */
  keyTold(key: CacheKey, sealer?: Sealer): CacheKey {
    return this.sealed && (this.encrypted || sealer !== undefined) ? keyForSealedTier(key) : key;
  }

  private pendingErasure(namespace: string): boolean {
    return this.erasing.size > 0 && (this.erasing.has(undefined) || this.erasing.has(namespace));
  }

  succeeded(): void {
    this.breaker.success();
    this.failing = false;
  }

  failed(op: string, raw: unknown): void {
    const error = errorOf(raw);
    if (error instanceof TierTimeoutError) this.counters.timeouts++;
    else this.counters.errors++;
    this.breaker.failure(`${op}: ${error.message}`);
    this.logOnce(op, error);
    this.policy.onError(this.name, op, error);
  }

  /** Logs the first failure of a burst; a tier failing between successes, once a minute at most. */
  logOnce(op: string, error: Error): void {
    // After close() other failures are the closing itself; a failed close is said (lost writes).
    if (this.failing || (this.policy.closed() && op !== 'close')) return;
    this.failing = true;
    const now = performance.now();
    if (this.loggedAt !== undefined && now - this.loggedAt < RELOG_AFTER_MS) return;
    this.loggedAt = now;
    // What the failure costs depends on the call: a read is a miss, anything else is skipped.
    const outcome = op === 'get' ? '; treated as a miss' : op === 'close' ? '' : '; skipped for this tier';
    this.policy.warn(`[strata] tier ${this.name}: ${op} failed (${error.message})${outcome}`);
  }

  /** The tier evicted an entry on its own (LRU, size, expiry). */
  evicted(event: { tier: string; hash: string; reason: string }): void {
    this.counters.evictions++;
    this.policy.onEvict(event);
  }

  /** The tier's client failed outside any call: logged once, reported, not counted as a failed call. */
  clientError(error: Error): void {
    // A failure that says what failed (the semantic tier's background judge) is logged as that.
    const op = (error as { op?: unknown }).op;
    this.logOnce(typeof op === 'string' ? op : 'connection', error);
    this.policy.onClientError(this.name, error);
  }

  private afterRead(start: number, payload: Read | null): Read {
    this.succeeded();
    this.counters.getLatency.record(performance.now() - start);
    if (payload == null) {
      this.counters.misses++;
      return undefined;
    }
    return payload;
  }
}

/**
 * What a driver reports on its own (evictions, client errors), given to it when it is built and
 * connected to its guarded tier when the manager registers it. Reports before then are dropped.
 */
export class TierSink {
  private target: GuardedTier | undefined;

  attach(target: GuardedTier): void {
    this.target = target;
  }

  readonly onEviction: EvictionListener = (event) => this.target?.evicted(event);
  readonly onClientError = (error: Error): void => this.target?.clientError(error);
}
