/**
 * Writes that found another process's lock taken. better-sqlite3 is synchronous, so waiting for
 * the lock would freeze the event loop: such a write goes into this small bounded queue, in
 * memory, that a background timer writes in one transaction once the lock is free (each attempt
 * waits only a few ms). While it is not empty, new writes join it without waiting, lookups of
 * queued keys are answered from it, and erasures take the matching writes out. Beyond either
 * bound the oldest writes are dropped (a later miss, never a wrong answer).
 */
import type { StoredEntry } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';

/** How long a background attempt (queued writes, batched counts, purge) waits for the lock. */
export const BACKGROUND_WAIT_MS = 10;
export const RETRY_MIN_MS = 25;
export const RETRY_MAX_MS = 1_000;
const QUEUE_MAX_ENTRIES = 1_000;
const QUEUE_MAX_BYTES = 32 * 1024 * 1024;

export interface Queued {
  readonly key: CacheKey;
  readonly entry: StoredEntry;
}

export class WriteQueue {
  /** Oldest first, by key hash. */
  private readonly items = new Map<string, Queued>();
  private bytes = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MIN_MS;
  private stopped = false;
  /** Writes dropped from a full queue or left unwritten at close, since open. */
  dropped = 0;
  /** `dropped` when flush() last reported. */
  droppedAtFlush = 0;

  /** `drain` writes the given writes in one transaction, waiting at most `waitMs`; false when the lock stayed taken. */
  constructor(private readonly drain: (waitMs: number) => boolean) {}

  get size(): number {
    return this.items.size;
  }

  get(hash: string): Queued | undefined {
    return this.items.get(hash);
  }

  /** What waits, oldest first. */
  all(): Queued[] {
    return [...this.items.values()];
  }

  add(item: Queued): void {
    const previous = this.items.get(item.key.hash);
    if (previous) {
      this.items.delete(item.key.hash);
      this.bytes -= previous.entry.size;
    }
    this.items.set(item.key.hash, item);
    this.bytes += item.entry.size;
    while (this.items.size > QUEUE_MAX_ENTRIES || (this.bytes > QUEUE_MAX_BYTES && this.items.size > 1)) {
      const [hash, oldest] = this.items.entries().next().value as [string, Queued];
      this.items.delete(hash);
      this.bytes -= oldest.entry.size;
      this.dropped++;
    }
    this.scheduleRetry();
  }

  /** Removes queued writes that match; returns how many. */
  remove(matches: (item: Queued) => boolean): number {
    if (this.items.size === 0) return 0;
    let removed = 0;
    for (const [hash, item] of this.items) {
      if (!matches(item)) continue;
      this.items.delete(hash);
      this.bytes -= item.entry.size;
      removed++;
    }
    return removed;
  }

  /** Everything was written (or given up on). */
  clear(): void {
    this.items.clear();
    this.bytes = 0;
  }

  /** No more background attempts (the tier is closing). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  /**
   * At close, while another process still holds the lock: keeps trying for up to `forMs`, then
   * counts what is left as dropped. Each try waits in SQLite's busy handler as long as the back-off
   * (up to RETRY_MAX_MS): writers that wait in theirs take a lock freed between 10 ms polls, and a
   * closing process polling that briefly could lose every race (a CI run lost 666 of 8,000 writes
   * of four processes so). Not unref'd: the process waits for its writes (bounded by `forMs`), so a
   * short-lived process lands them. Resolves with how many writes were left unwritten.
   */
  settle(forMs: number): Promise<number> {
    const deadline = performance.now() + forMs;
    const remaining = () => Math.max(0, deadline - performance.now());
    return new Promise<number>((resolve) => {
      let delay = RETRY_MIN_MS;
      const retry = () => {
        // Neither the pause nor the wait in the busy handler runs past the deadline (by more than
        // one short poll): the close takes forMs, as its caller says it does.
        const wait = Math.max(BACKGROUND_WAIT_MS, Math.min(delay, remaining()));
        if (this.drain(wait) || remaining() === 0) {
          const left = this.items.size;
          this.dropped += left;
          this.items.clear();
          resolve(left);
          return;
        }
        delay = Math.min(delay * 2, RETRY_MAX_MS);
        setTimeout(retry, Math.min(delay, remaining()));
      };
      setTimeout(retry, Math.min(delay, remaining()));
    });
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.stopped) return;
      if (this.drain(BACKGROUND_WAIT_MS)) this.retryDelay = RETRY_MIN_MS;
      else {
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
        this.scheduleRetry();
      }
    }, this.retryDelay);
    this.retryTimer.unref();
  }
}
