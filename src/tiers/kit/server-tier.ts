/**
 * What the tiers on a server (MySQL, PostgreSQL, MongoDB) share: their tables or indexes are
 * set up once per process on first use (a server down at start-up is set up by the first call
 * after it returns), hit counts are batched and written once a second (core/access-batch.ts),
 * expired entries are purged on a timer, and close stops the timers, writes what was batched
 * once more and disconnects.
 */
import { AccessBatch, type AccessBatchContents } from '../../core/access-batch.js';
import { every, OnFirstUse, stopUpkeep } from '../../core/upkeep.js';

/** How often batched hit counts are written. */
export const FLUSH_MS = 1_000;

export abstract class ServerTier {
  /** Creates or upgrades the schema (or indexes) once per process, on first use. */
  protected readonly setup = new OnFirstUse(() => this.prepare());
  /** Hit counts (and daily statistics), written every FLUSH_MS. */
  protected readonly access = new AccessBatch();
  protected closed = false;
  private readonly timers: NodeJS.Timeout[] = [];

  /** The one-time set-up: migrations, indexes. */
  protected abstract prepare(): Promise<void>;
  /** Writes what the access batch holds (flushBatch helps). */
  protected abstract flush(): Promise<void>;
  /** Ends the connections. */
  protected abstract disconnect(): Promise<void>;
  abstract purgeExpired(): Promise<number>;

  /** Starts the background upkeep; the subclass calls it once its client exists. */
  protected startUpkeep(purgeIntervalMs: number): void {
    every(FLUSH_MS, () => this.flush(), this.timers);
    if (purgeIntervalMs > 0) every(purgeIntervalMs, () => this.purgeExpired(), this.timers);
  }

  /**
   * Takes the batch and writes it with `write` once the schema is set up; a failed write gives
   * the counts back for the next flush.
   */
  protected async flushBatch(write: (taken: AccessBatchContents) => Promise<void>): Promise<void> {
    if (this.closed || !this.setup.done) return;
    const taken = this.access.take();
    if (!taken) return;
    try {
      await write(taken);
    } catch (error) {
      this.access.giveBack(taken);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await stopUpkeep(this.timers, () => this.flush());
    this.closed = true;
    await this.disconnect();
  }
}
