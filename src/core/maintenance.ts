/**
 * Maintenance across tiers, for the manager: purging expired entries, landing held writes, and
 * erasures. Every erasure (delete, clear, invalidateTag) learns
 * which tiers could not run it and why. When one could not, the call rejects with an
 * IncompleteOperationError (what the others removed, and each failure), and the erasure is
 * remembered: retried in the background with backoff until it has run on that tier, and
 * meanwhile that tier's reads of the namespace it covers (of every namespace, for one across
 * namespaces) are misses, so nothing it should have removed is served, and its writes there are
 * skipped, so the retry never removes an answer the tier acknowledged. close() drops what is
 * still pending: not done.
 */
import { IncompleteOperationError, type TierFailure } from '../errors.js';
import { DeferredTier } from './deferred-tier.js';
import { errorOf } from './error-of.js';
import type { GuardedTier } from './guarded-tier.js';
import { isPromiseLike, type MaybePromise, type Tier } from './tier.js';

/** One tier's outcome of a maintenance operation: its value, or why it could not. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

/** clear, invalidateTag or delete, as a tier runs it. */
export interface Erasure {
  op: 'delete' | 'clear' | 'invalidateTag';
  /** The namespace it covers; undefined: every namespace. */
  namespace: string | undefined;
  /** The same for the same erasure: one asked again while pending is pending once. */
  id: string;
  run(tier: Tier): MaybePromise<number | boolean>;
}

interface PendingErasure {
  readonly erasure: Erasure;
  delayMs: number;
  timer: NodeJS.Timeout | undefined;
}

/** Backoff of an erasure's background retries: doubling from the first to the last. */
const ERASURE_RETRY_MIN_MS = 250;
const ERASURE_RETRY_MAX_MS = 30_000;

/** What the erasures need of the manager that owns the tiers. */
export interface ErasureHost {
  closed(): boolean;
  warn(message: string): void;
  /** Runs `fn` when the manager closes, before the tiers close. */
  onClose(fn: () => Promise<void>): void;
}

export class Erasures {
  /** Erasures a tier could not run, retried until they have. */
  private readonly pending = new Map<GuardedTier, Map<string, PendingErasure>>();
  private dropsOnClose = false;

  constructor(
    private readonly managed: readonly GuardedTier[],
    private readonly host: ErasureHost,
  ) {}

  /** Runs an erasure on every tier; rejects naming the tiers that could not, which retry it. */
  async erase(erasure: Erasure): Promise<number> {
    const outcomes = await attemptEvery(this.managed, this.host.closed(), erasure.op, erasure.run);
    let removed = 0;
    const failures: TierFailure[] = [];
    const closed = this.host.closed();
    outcomes.forEach((o, i) => {
      const m = this.managed[i]!;
      if (o.ok) {
        removed += Number(o.value);
        this.erased(m, erasure);
      } else {
        failures.push({ tier: m.name, reason: o.reason });
        if (!closed) this.retryLater(m, erasure);
      }
    });
    if (failures.length > 0) throw new IncompleteOperationError(erasure.op, removed, failures, !closed);
    return removed;
  }

  /** Remembers an erasure a tier could not run: that tier neither serves nor stores what it covers until a retry has run it. */
  private retryLater(m: GuardedTier, erasure: Erasure): void {
    let pending = this.pending.get(m);
    if (!pending) {
      pending = new Map();
      this.pending.set(m, pending);
    }
    // The same erasure asked again while pending: the retry already under way covers it.
    if (pending.has(erasure.id)) return;
    if (!this.dropsOnClose) {
      this.dropsOnClose = true;
      this.host.onClose(async () => this.dropPending());
    }
    const retry: PendingErasure = { erasure, delayMs: ERASURE_RETRY_MIN_MS, timer: undefined };
    pending.set(erasure.id, retry);
    m.erasing.set(erasure.namespace, (m.erasing.get(erasure.namespace) ?? 0) + 1);
    this.schedule(m, retry);
  }

  private schedule(m: GuardedTier, retry: PendingErasure): void {
    const current = () => !this.host.closed() && this.pending.get(m)?.get(retry.erasure.id) === retry;
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      if (!current()) return;
      void m.track(
        attempt(m, retry.erasure.op, retry.erasure.run).then((outcome) => {
          if (!current()) return;
          if (outcome.ok) {
            this.erased(m, retry.erasure);
            return;
          }
          retry.delayMs = Math.min(retry.delayMs * 2, ERASURE_RETRY_MAX_MS);
          this.schedule(m, retry);
        }),
      );
    }, retry.delayMs);
    retry.timer.unref();
  }

  /** An erasure ran on this tier: it, and every pending one it covers, is done there. */
  private erased(m: GuardedTier, done: Erasure): void {
    const pending = this.pending.get(m);
    if (!pending) return;
    for (const [id, retry] of pending) {
      const p = retry.erasure;
      const covered =
        id === done.id ||
        (done.op === 'clear' && (done.namespace === undefined || done.namespace === p.namespace));
      if (!covered) continue;
      clearTimeout(retry.timer);
      pending.delete(id);
      const left = (m.erasing.get(p.namespace) ?? 1) - 1;
      if (left > 0) m.erasing.set(p.namespace, left);
      else m.erasing.delete(p.namespace);
    }
    if (pending.size === 0) this.pending.delete(m);
  }

  /** At close: what no retry has run yet is dropped, and said. */
  private dropPending(): void {
    for (const [m, pending] of this.pending) {
      for (const retry of pending.values()) clearTimeout(retry.timer);
      m.erasing.clear();
      const what = [...pending.values()].map((r) => describeErasure(r.erasure)).join(', ');
      this.host.warn(
        `[strata] close(): ${pending.size} erasure(s) never ran on tier ${m.name} (${what}); dropped, not done`,
      );
    }
    this.pending.clear();
  }
}

/** Deletes expired entries in every tier: how many each tier removed, and the tiers that could not. */
export async function purgeEvery(
  managed: readonly GuardedTier[],
  closed: boolean,
): Promise<{ counts: Record<string, number>; failures: TierFailure[] }> {
  const outcomes = await attemptEvery(managed, closed, 'purgeExpired', (t) => t.purgeExpired());
  const counts: Record<string, number> = {};
  const failures: TierFailure[] = [];
  outcomes.forEach((o, i) => {
    const name = managed[i]!.name;
    if (o.ok) counts[name] = o.value;
    else failures.push({ tier: name, reason: o.reason });
  });
  return { counts, failures };
}

/** Lands the writes each tier holds in memory (Manager.flushWrites); names the tiers that could not. */
export async function flushEvery(managed: readonly GuardedTier[], closed: boolean): Promise<TierFailure[]> {
  if (closed) return managed.map((m) => ({ tier: m.name, reason: 'the cache is closed' }));
  // A flush with nothing to write says nothing of the tier's health: only failures reach its breaker.
  const outcomes = await Promise.all(
    managed.map((m) => attempt(m, 'flush', (t) => flushable(t)?.flush(), { feedsSuccess: false })),
  );
  return outcomes.flatMap((o, i) => (o.ok ? [] : [{ tier: managed[i]!.name, reason: o.reason }]));
}

/** As attempt, on every tier in parallel. After close() no tier is touched. */
function attemptEvery<T>(
  managed: readonly GuardedTier[],
  closed: boolean,
  op: string,
  fn: (tier: Tier) => MaybePromise<T>,
): Promise<Array<Outcome<T>>> {
  if (closed)
    return Promise.resolve(managed.map(() => ({ ok: false as const, reason: 'the cache is closed' })));
  return Promise.all(managed.map((m) => attempt(m, op, fn)));
}

/** One call under the tier's policy (as GuardedTier.run: bounded, counted, feeds the breaker), keeping the reason of a failure. */
async function attempt<T>(
  m: GuardedTier,
  op: string,
  fn: (tier: Tier) => MaybePromise<T>,
  options: { feedsSuccess?: boolean } = {},
): Promise<Outcome<T>> {
  try {
    const result = fn(m.tier);
    const value = isPromiseLike(result) ? await m.bounded(op, result) : result;
    if (options.feedsSuccess !== false) m.succeeded();
    return { ok: true, value };
  } catch (error) {
    m.failed(op, error);
    return { ok: false, reason: errorOf(error).message };
  }
}

/** A tier that holds accepted writes in memory and can be told to land them (the SQLite tier), seen through a deferred tier. */
function flushable(tier: Tier): { flush(): MaybePromise<void> } | undefined {
  const real = tier instanceof DeferredTier ? tier.current : tier;
  const candidate = real as { flush?: unknown } | undefined;
  return typeof candidate?.flush === 'function' ? (candidate as { flush(): MaybePromise<void> }) : undefined;
}

function describeErasure(e: Erasure): string {
  const where = e.namespace === undefined ? 'every namespace' : `namespace ${JSON.stringify(e.namespace)}`;
  return `${e.op} in ${where}`;
}
