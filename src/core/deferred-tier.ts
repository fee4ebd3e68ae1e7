/**
 * A tier whose backend could not be opened yet (a damaged or locked file, a directory at the
 * path, a schema written by a newer version, a server that refused the first connection).
 *
 * Only a bad config is fatal at start-up. Anything else makes the tier `down` with the reason
 * while the others serve: every call fails at once naming the reason (the manager turns that
 * into a miss, counts it and logs it once), health() reports down + reason, and the backend is
 * re-opened in the background with backoff (retryMs, doubling up to maxRetryMs). A call that
 * finds a re-open due starts it and waits for it, so the first call after the backend is fixed
 * is already served. Once open, every call goes straight to the real tier, synchronous
 * results included (the SQLite and memory fast paths stay free of promises).
 */

import { TierUnavailableError } from '../errors.js';
import type { Logger } from './events.js';
import type { CounterStore, ListedEntry, MaybePromise, Tier, TierHealth } from './tier.js';

export interface DeferredTierOptions {
  name: string;
  type: string;
  /** Builds the real tier; a rejection is the reason this tier is down. */
  open: () => Promise<Tier>;
  /** Delay before the first re-open; doubles after each failure, up to maxRetryMs. */
  retryMs: number;
  maxRetryMs: number;
  logger?: Logger;
  /** The real tier will keep the fleet's counters: reports fail while it is down, then reach it. */
  holdsCounters?: boolean;
}

/**
 * Opens a tier; if that fails for a reason other than config (`isConfigError`), returns a
 * DeferredTier that is down with the reason and keeps trying.
 */
export async function openOrDefer(
  open: () => Promise<Tier>,
  options: Omit<DeferredTierOptions, 'open'> & { isConfigError: (error: unknown) => boolean },
): Promise<Tier> {
  try {
    return await open();
  } catch (error) {
    if (options.isConfigError(error)) throw error;
    const { isConfigError: _, ...rest } = options;
    return new DeferredTier({ ...rest, open }, error);
  }
}

export class DeferredTier implements Tier {
  readonly name: string;
  readonly type: string;
  /** The fleet's counters of the real tier, once open (the fleet reporter is set up at start). */
  readonly counters: CounterStore | undefined;
  // Capabilities of the real tier, copied when it opens.
  search?: Tier['search'];
  daily?: Tier['daily'];
  markBad?: Tier['markBad'];
  markGood?: Tier['markGood'];
  replacePayload?: Tier['replacePayload'];
  private inner: Tier | undefined;
  private reason: string;

  get closeWithinMs(): number | undefined {
    return this.inner?.closeWithinMs;
  }
  private attempt: Promise<void> | undefined;
  private delay: number;
  private nextAttemptAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private closed = false;

  /** Without `firstError` the first attempt starts now; with it, the tier starts down and retries later. */
  constructor(
    private readonly options: DeferredTierOptions,
    firstError?: unknown,
  ) {
    this.name = options.name;
    this.type = options.type;
    this.delay = options.retryMs;
    this.reason = 'opening';
    this.counters = options.holdsCounters
      ? {
          publish: (process, snapshot, at) => this.withCounters((c) => c.publish(process, snapshot, at)),
          read: (since) => this.withCounters((c) => c.read(since)),
        }
      : undefined;
    if (firstError === undefined) void this.reopen();
    else this.failed(firstError);
  }

  /** The real tier once open. */
  get current(): Tier | undefined {
    return this.inner;
  }

  get(key: Parameters<Tier['get']>[0]): ReturnType<Tier['get']> {
    const inner = this.inner;
    if (inner) return inner.get(key);
    return this.whenOpen((t) => t.get(key));
  }

  set(...args: Parameters<Tier['set']>): ReturnType<Tier['set']> {
    const inner = this.inner;
    if (inner) return inner.set(...args);
    return this.whenOpen((t) => t.set(...args));
  }

  delete(key: Parameters<Tier['delete']>[0]): ReturnType<Tier['delete']> {
    return this.inner ? this.inner.delete(key) : this.whenOpen((t) => t.delete(key));
  }

  clear(namespace?: string): ReturnType<Tier['clear']> {
    return this.inner ? this.inner.clear(namespace) : this.whenOpen((t) => t.clear(namespace));
  }

  invalidateTag(tag: string, namespace?: string): ReturnType<Tier['invalidateTag']> {
    return this.inner
      ? this.inner.invalidateTag(tag, namespace)
      : this.whenOpen((t) => t.invalidateTag(tag, namespace));
  }

  purgeExpired(): ReturnType<Tier['purgeExpired']> {
    return this.inner ? this.inner.purgeExpired() : this.whenOpen((t) => t.purgeExpired());
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    const inner = this.inner ?? (await this.whenOpen((t) => t));
    yield* inner.entries(namespace);
  }

  stats(): ReturnType<Tier['stats']> {
    return this.inner ? this.inner.stats() : this.whenOpen((t) => t.stats());
  }

  async health(): Promise<TierHealth> {
    if (this.closed) return { status: 'down', reason: 'closed' };
    if (!this.inner && this.due()) await this.reopen();
    if (this.inner) return this.inner.health();
    return { status: 'down', reason: this.reason };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    const inner = this.inner;
    this.inner = undefined;
    if (inner) await inner.close();
  }

  /** While not open: try a re-open if one is due (and wait for it), else fail at once with the reason. */
  private withCounters<T>(use: (counters: CounterStore) => MaybePromise<T>): MaybePromise<T> {
    const counters = this.inner?.counters;
    if (counters) return use(counters);
    return this.whenOpen((t) => {
      if (!t.counters) throw new TierUnavailableError(`tier ${this.name} keeps no fleet counters`);
      return use(t.counters);
    });
  }

  private whenOpen<T>(fn: (tier: Tier) => MaybePromise<T>): Promise<T> {
    if (this.closed) throw new TierUnavailableError(`tier ${this.name}: closed`);
    if (!this.attempt && !this.due()) throw this.unavailable();
    return (this.attempt ?? this.reopen()).then(() => {
      if (!this.inner) throw this.unavailable();
      return fn(this.inner);
    });
  }

  private unavailable(): Error {
    return new Error(`tier ${this.name} is unavailable: ${this.reason}`);
  }

  private due(): boolean {
    return !this.attempt && Date.now() >= this.nextAttemptAt;
  }

  private reopen(): Promise<void> {
    if (this.attempt) return this.attempt;
    clearTimeout(this.timer);
    this.attempts++;
    // A factory that throws synchronously fails the attempt like one that rejects.
    const attempt = new Promise<Tier>((resolve) => resolve(this.options.open())).then(
      async (tier) => {
        if (this.closed) {
          await Promise.resolve()
            .then(() => tier.close())
            .catch(() => {});
          return;
        }
        this.inner = tier;
        this.search = tier.search?.bind(tier);
        this.daily = tier.daily?.bind(tier);
        this.markBad = tier.markBad?.bind(tier);
        this.markGood = tier.markGood?.bind(tier);
        this.replacePayload = tier.replacePayload?.bind(tier);
        if (this.attempts > 1 || this.reason !== 'opening') {
          this.options.logger?.warn(`[strata] tier ${this.name} opened; serving again`);
        }
      },
      (error: unknown) => this.failed(error),
    );
    this.attempt = attempt.finally(() => {
      this.attempt = undefined;
    });
    return this.attempt;
  }

  private failed(error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    if (this.attempts <= 1 || reason !== this.reason) {
      this.options.logger?.warn(
        `[strata] tier ${this.name} cannot be opened (${reason}); it is down and will be retried`,
      );
    }
    this.reason = reason;
    if (this.closed) return;
    this.nextAttemptAt = Date.now() + this.delay;
    this.timer = setTimeout(() => void this.reopen(), this.delay);
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, this.options.maxRetryMs);
  }
}
