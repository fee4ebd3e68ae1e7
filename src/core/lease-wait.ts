/**
 * Distributed coalescing: after a miss, this instance claims the key in the shared tier (its
 * `lease`) for as long as this model's misses take to be answered. If another instance holds the
 * claim, it is calling the LLM: wait for its answer to land in the shared tier, woken early by
 * its bus message and polling in case the bus is down. A claim that ends without an answer
 * (released after a failed call, or run out) is taken over by one waiting instance, which then
 * calls the LLM itself.
 */
import { performance } from 'node:perf_hooks';
import { type Answer, answerMatchesKey, decodeAnswer, isExpired } from './entry.js';
import type { GuardedTier } from './guarded-tier.js';
import type { CacheKey } from './key.js';
import { isPromiseLike } from './tier.js';

/** How often a waiter looks at the shared tier when no bus message wakes it. */
const POLL_MS = 50;

export interface LeaseWaitOptions {
  /** The longest a lookup waits for another instance's answer. */
  waitMs: number;
  /** How long a claim lasts for this llm string (learned from its misses). */
  leaseMs(llmString: string): number;
  usable(answer: Answer, llmString: string): boolean;
  closed(): boolean;
  /** The engine's clock (epoch ms): an entry the tier still keeps past its TTL (stale.ts) is not the answer waited for. */
  now(): number;
}

export class LeaseWait {
  /** Lookups waiting for another instance's answer, woken early by its bus message. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    /** The shared tier that arbitrates. */
    readonly via: GuardedTier,
    private readonly options: LeaseWaitOptions,
  ) {}

  /**
   * After a miss: undefined when this instance should call the LLM (it holds the claim, the
   * shared tier cannot arbitrate, or the wait ran out), else the answer another instance stored.
   */
  async answerFromOthers(
    key: CacheKey,
    waitMs: number = this.options.waitMs,
    /** The plain payload of what the shared tier holds (encryption/at-rest.ts); undefined: not to be used. */
    open: (payload: string) => string | undefined = (payload) => payload,
    /** Told when this caller starts waiting (another instance holds the lease): its trace span. */
    onWait?: () => void,
  ): Promise<{ entry: Answer; payload: string } | undefined> {
    const m = this.via;
    const leaseMs = this.options.leaseMs(key.llmString);
    if (await this.claim(key, leaseMs)) return undefined;
    onWait?.();
    const deadline = performance.now() + Math.min(waitMs, this.options.waitMs);
    while (performance.now() < deadline && !this.options.closed()) {
      await this.signal(key.hash, Math.min(POLL_MS, deadline - performance.now()));
      const read = m.read(key);
      const held = isPromiseLike(read) ? await read : read;
      const payload = typeof held === 'string' ? open(held) : undefined;
      const entry = typeof payload === 'string' ? decodeAnswer(payload) : undefined;
      if (
        typeof payload === 'string' &&
        entry &&
        answerMatchesKey(entry, key) &&
        !isExpired(entry, this.options.now()) &&
        this.options.usable(entry, key.llmString)
      ) {
        return { entry, payload };
      }
      if (await this.claim(key, leaseMs)) return undefined;
    }
    return undefined;
  }

  /** This instance will not store an answer for the key (stored one, or gave up): others may go. */
  release(key: CacheKey): void {
    const m = this.via;
    m.tier.lease!.release(key).catch((error: unknown) => m.failed('lease', error));
  }

  /** Another instance stored the key: its waiters here look now. */
  wake(hash: string): void {
    for (const wake of [...(this.waiters.get(hash) ?? [])]) wake();
  }

  close(): void {
    for (const waiters of this.waiters.values()) for (const wake of [...waiters]) wake();
  }

  /** True when this instance now holds the shared claim on the key, or the shared tier cannot arbitrate. */
  private async claim(key: CacheKey, leaseMs: number): Promise<boolean> {
    const m = this.via;
    // A tier whose last call failed does not arbitrate: a lookup whose read just timed out would
    // otherwise spend a second timeout on the claim, twice the bound its caller was given.
    if (m.breaker.failing || !m.breaker.allow()) return true;
    try {
      const claimed = await m.bounded('lease', m.tier.lease!.acquire(key, leaseMs));
      m.succeeded();
      return claimed;
    } catch (error) {
      m.failed('lease', error);
      return true;
    }
  }

  private signal(hash: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.waiters.get(hash);
      if (!waiters) {
        waiters = new Set();
        this.waiters.set(hash, waiters);
      }
      const set = waiters;
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(hash) === set) this.waiters.delete(hash);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(1, ms));
      set.add(wake);
    });
  }
}
