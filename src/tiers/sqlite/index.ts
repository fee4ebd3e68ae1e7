/**
 * SQLite tier: one file, WAL, prepared statements, versioned schema.
 *
 * The primary key is the full cache key hash over (namespace, sanitized llm string, prompt),
 * never a prompt hash alone, which would mix the answers of different models and tenants.
 *
 * Several processes may share one file: WAL lets readers run beside one writer. better-sqlite3
 * is synchronous, so a lookup costs no promise or thread hop; hit bookkeeping (access_count,
 * last_access_at) is batched into one transaction per second instead of turning every read into
 * a write.
 *
 * Synchronous also means that waiting for another process's write lock freezes the whole event
 * loop, so no call may wait longer than the tier's `timeoutMs` (the busy timeout is bounded by
 * it). A write that still finds the lock taken is not an error: it goes into a small bounded
 * queue, in memory, that a background timer writes in one transaction once the lock is free
 * (each attempt waits only a few ms). While the queue is not empty, new writes join it without
 * waiting at all, lookups of queued keys are answered from it, and deletes, clears and tag
 * invalidations take the matching queued writes out. We chose this over a worker thread: the
 * read fast path stays synchronous and free, only writes that meet a lock pay anything, and the
 * worst case (the queue full) loses cache writes, never answers.
 *
 * Opening (open.ts, schema.ts) never takes a lock when the schema is current, and fails with the
 * reason on a file this version cannot use; createCache then keeps the tier down and retries. A
 * file found damaged later (a read meets SQLITE_CORRUPT) gets no more bookkeeping writes (hit
 * counts, daily statistics, purges, evictions, fleet counters): they would write into it.
 *
 * The parts: open.ts (open, validate), schema.ts (migrate), write-queue.ts, daily-stats.ts
 * (batched counts, daily statistics), eviction.ts, recover.ts (listing a damaged file).
 */
import type Database from 'better-sqlite3';
import { AccessBatch } from '../../core/access-batch.js';
import type { Clock } from '../../core/clock.js';
import type { StoredEntry } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import {
  type CounterStore,
  type DailyStats,
  type EntryRef,
  type EvictionListener,
  FLEET_RETENTION_MS,
  type ListedEntry,
  type Tier,
  type TierHealth,
  type TierStats,
} from '../../core/tier.js';
import { every } from '../../core/upkeep.js';
import { TierReadOnlyError, TierUnavailableError, WritesLostError } from '../../errors.js';
import { isBusy } from '../kit/sqlite-busy.js';
import type { SqliteTierConfig } from './config.js';
import { ACCESS_FLUSH_MS, readDaily, writeAccess } from './daily-stats.js';
import { Eviction } from './eviction.js';
import {
  describeOpenError,
  describeSqliteFailure,
  faultOf,
  integrityProblem,
  isDamage,
  openDatabase,
} from './open.js';
import { type PageRow, readable } from './recover.js';
import { MIGRATIONS } from './schema.js';
import { PAGE, prepareStatements } from './statements.js';
import { BACKGROUND_WAIT_MS, type Queued, WriteQueue } from './write-queue.js';

export { describeSqliteFailure } from './open.js';

/** The fields of config.ts (documented there), with the purge period in ms. */
export type SqliteTierOptions = Pick<
  SqliteTierConfig,
  'path' | 'maxEntries' | 'maxBytes' | 'busyTimeoutMs'
> & {
  name?: string;
  purgeIntervalMs: number;
  /** The tier's call budget: no call blocks the event loop longer. Defaults to busyTimeoutMs. */
  timeoutMs?: number;
  /**
   * Opens the file read-only: creates nothing (no directory, database, -wal or -shm for a missing
   * file, which is an error), migrates nothing, and refuses writes. For inspecting commands.
   */
  readonly?: boolean;
  /** health() runs PRAGMA quick_check and looks for free disk space (a full read: for `strata doctor`). */
  integrityCheck?: boolean;
  clock: Clock;
  onEviction?: EvictionListener;
};

export class SqliteTier implements Tier {
  readonly name: string;
  readonly type = 'sqlite';
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly readonly: boolean;
  /** The longest any call waits for a lock: min(busyTimeoutMs, timeoutMs). */
  private readonly waitMs: number;
  /** Hit counts and daily statistics, written once a second (core/access-batch.ts). */
  private readonly access = new AccessBatch();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly write: (key: CacheKey, entry: StoredEntry) => void;
  private readonly writeMany: (items: Queued[]) => void;
  /** Writes that found the lock taken (write-queue.ts). */
  private readonly queue = new WriteQueue((waitMs) => this.drain(waitMs));
  private readonly eviction: Eviction;
  /** The last disk-level failure (full, read-only, damaged, I/O) until a write succeeds. */
  private fault: string | undefined;
  /** Set for good once the file is found damaged: no bookkeeping is written to it any more. */
  private damage: string | undefined;
  /**
   * Once flush() has been called, a write that finds the lock taken fails instead of joining the
   * queue: whoever flushes learns every write's outcome (`strata import`).
   */
  private confirmWrites = false;
  private closed = false;

  /** Processes sharing this file report their counters here (core/fleet.ts). */
  readonly counters: CounterStore = {
    publish: (process, snapshot, at) => {
      if (this.readonly || this.damage) return;
      this.db.transaction(() => {
        this.db
          .prepare('INSERT OR REPLACE INTO fleet_counters (process, reported_at, snapshot) VALUES (?, ?, ?)')
          .run(process, at, snapshot);
        this.db.prepare('DELETE FROM fleet_counters WHERE reported_at < ?').run(at - FLEET_RETENTION_MS);
      })();
    },
    read: (since) => {
      // A file of an older schema, opened read-only, has no such table: no reports.
      if (this.schemaVersion() < MIGRATIONS.length) return [];
      return this.db
        .prepare('SELECT snapshot FROM fleet_counters WHERE reported_at >= ?')
        .pluck()
        .all(since) as string[];
    },
  };

  constructor(private readonly options: SqliteTierOptions) {
    this.name = options.name ?? 'sqlite';
    this.readonly = options.readonly ?? false;
    this.waitMs = Math.min(options.busyTimeoutMs, options.timeoutMs ?? options.busyTimeoutMs);
    this.db = openDatabase(options.path, this.readonly, this.waitMs);
    const db = this.db;
    try {
      this.stmt = prepareStatements(db);
    } catch (error) {
      db.close();
      throw describeOpenError(options.path, error, this.waitMs);
    }
    this.eviction = new Eviction(this.name, options, this.stmt, () => this.flushAccess(), options.onEviction);
    const writeRow = (key: CacheKey, entry: StoredEntry) => {
      this.stmt.upsert.run({
        hash: key.hash,
        namespace: key.namespace,
        prompt: entry.prompt ?? null,
        llm: key.llmString,
        response: entry.payload,
        metadata: entry.metadata === undefined ? null : JSON.stringify(entry.metadata),
        size: entry.size,
        created: entry.createdAt,
        now: this.options.clock.now(),
        expires: entry.expiresAt,
      });
      this.stmt.clearTags.run(key.hash);
      for (const tag of entry.tags) this.stmt.addTag.run(tag, key.hash);
    };
    this.write = db.transaction(writeRow);
    this.writeMany = db.transaction((items: Queued[]) => {
      for (const { key, entry } of items) writeRow(key, entry);
    });
    if (this.readonly) return;
    if (options.purgeIntervalMs > 0) {
      every(
        options.purgeIntervalMs,
        () => this.damage === undefined && this.waiting(BACKGROUND_WAIT_MS, () => this.purgeExpired()),
        this.timers,
      );
    }
    every(ACCESS_FLUSH_MS, () => this.flushAccess(BACKGROUND_WAIT_MS), this.timers);
  }

  get(key: CacheKey): string | undefined {
    if (this.queue.size > 0) {
      const queued = this.queue.get(key.hash);
      if (queued) return queued.entry.payload;
    }
    const started = performance.now();
    let response: string | undefined;
    try {
      response = this.stmt.get.get(key.hash, this.options.clock.now()) as string | undefined;
    } catch (error) {
      throw this.noteFault(error);
    }
    if (this.readonly) return response;
    this.access.record(response === undefined ? undefined : key.hash, performance.now() - started);
    return response;
  }

  set(key: CacheKey, entry: StoredEntry): boolean {
    this.writable();
    if (this.options.maxBytes !== undefined && entry.size > this.options.maxBytes) return false;
    if (this.queue.size > 0) {
      // The lock was taken a moment ago: join the queue rather than wait for it again.
      this.queue.add({ key, entry });
      return true;
    }
    try {
      this.write(key, entry);
    } catch (error) {
      if (!isBusy(error) || this.confirmWrites) throw this.failure(error);
      this.queue.add({ key, entry });
      return true;
    }
    this.fault = undefined;
    this.afterWrite(1);
    return true;
  }

  replacePayload(entry: EntryRef, expected: string, payload: string): boolean {
    this.writable();
    // A write still queued for this key is newer than the row: the row is not the entry any more.
    if (this.queue.get(entry.hash)) return false;
    const size = Buffer.byteLength(payload, 'utf8');
    const { hash, namespace } = entry;
    return this.described(
      () => this.stmt.replacePayload.run({ hash, namespace, expected, payload, size }).changes > 0,
    );
  }

  delete(key: CacheKey): boolean {
    this.writable();
    this.access.forget(key.hash);
    const queued = this.queue.remove((q) => q.key.hash === key.hash) > 0;
    return this.described(() => this.stmt.delete.run(key.hash).changes > 0) || queued;
  }

  clear(namespace?: string): number {
    this.writable();
    this.access.forgetAll();
    const queued = this.queue.remove((q) => namespace === undefined || q.key.namespace === namespace);
    return (
      queued +
      this.described(() =>
        namespace === undefined
          ? this.stmt.clearAll.run().changes
          : this.stmt.clearNamespace.run(namespace).changes,
      )
    );
  }

  invalidateTag(tag: string, namespace?: string): number {
    this.writable();
    const queued = this.queue.remove(
      (q) => q.entry.tags.includes(tag) && (namespace === undefined || q.key.namespace === namespace),
    );
    return (
      queued +
      this.described(() => this.stmt.invalidateTag.run({ tag, namespace: namespace ?? null }).changes)
    );
  }

  purgeExpired(): number {
    this.writable();
    return this.described(() => {
      const purged = this.stmt.purge.run(this.options.clock.now()).changes;
      this.eviction.enforce();
      return purged;
    });
  }

  /**
   * Writes what waits in the queue now, waiting at most the tier's lock wait, and from then on
   * fails a write that finds the lock taken instead of queueing it. Throws, naming how many
   * writes were lost and why, when the queue could not be written (it is then emptied, so what
   * the error says was not written never is) or when writes were dropped from a full queue
   * since the last flush.
   */
  flush(): void {
    this.confirmWrites = true;
    const queue = this.queue;
    const dropped = queue.dropped - queue.droppedAtFlush;
    if (queue.size > 0 && !this.closed && !this.drain(this.waitMs)) {
      const lost = queue.size;
      queue.clear();
      queue.dropped += lost;
      queue.droppedAtFlush = queue.dropped;
      const why =
        this.fault ?? `${this.options.path}: locked by another process for more than ${this.waitMs} ms`;
      throw new WritesLostError(`${why}; ${lost + dropped} accepted writes were not written`);
    }
    queue.droppedAtFlush = queue.dropped;
    if (dropped > 0) {
      throw new WritesLostError(
        `${this.options.path}: ${dropped} accepted writes were dropped (the queue of writes waiting for another process's lock was full)`,
      );
    }
  }

  /**
   * Every live entry, paged by key so no statement stays open across a yield (the connection
   * would be busy). On a damaged file it lists every entry that can still be read (see
   * readable()) and then fails, saying how many could not be.
   */
  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    let after = '';
    for (;;) {
      let rows: PageRow[];
      try {
        rows = this.stmt.page.all({
          after,
          namespace: namespace ?? null,
          now: this.options.clock.now(),
        }) as PageRow[];
      } catch (error) {
        if (!isDamage(error)) throw this.failure(error);
        this.noteFault(error);
        yield* readable(
          this.db,
          this.options.path,
          this.options.clock.now(),
          namespace,
          after,
          error as Error,
        );
        return;
      }
      for (const row of rows) {
        yield {
          namespace: row.namespace,
          hash: row.key_hash,
          payload: row.response,
          accessCount: row.access_count,
        };
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.key_hash;
    }
  }

  stats(): TierStats {
    let totals: { entries: number; bytes: number };
    let namespaces: Array<{ namespace: string; entries: number }>;
    try {
      totals = this.stmt.totals.get() as { entries: number; bytes: number };
      namespaces = this.stmt.perNamespace.all() as Array<{ namespace: string; entries: number }>;
    } catch (error) {
      throw this.noteFault(error);
    }
    return {
      entries: totals.entries,
      bytes: totals.bytes,
      ...(this.options.maxEntries === undefined ? {} : { maxEntries: this.options.maxEntries }),
      ...(this.options.maxBytes === undefined ? {} : { maxBytes: this.options.maxBytes }),
      evictions: this.eviction.evictions,
      queuedWrites: this.queue.size,
      droppedWrites: this.queue.dropped,
      namespaces: Object.fromEntries(namespaces.map((n) => [n.namespace, n.entries])),
    };
  }

  health(): TierHealth {
    if (this.closed) return { status: 'down', reason: 'closed' };
    if (this.damage) return { status: 'down', reason: this.damage };
    if (this.fault) return { status: 'down', reason: this.fault };
    this.db.prepare('SELECT 1').get();
    if (this.options.integrityCheck) {
      const problem = integrityProblem(this.db, this.options.path, this.waitMs);
      if (problem) return { status: 'down', reason: problem };
    }
    if (this.queue.size > 0) {
      return {
        status: 'degraded',
        reason: `${this.queue.size} writes wait for another process's lock on ${this.options.path}`,
      };
    }
    return { status: 'up' };
  }

  /**
   * Closes the file after writing what is queued. When another process still holds the lock,
   * the queue keeps trying in the background (without blocking) for up to busyTimeoutMs, and the
   * returned promise settles when it is done; a short-lived process thus lands its writes. Writes
   * it could not land by then, or dropped from a full queue since the last flush(), are reported:
   * the file is closed either way, then close() fails with a WritesLostError saying how many.
   */
  /** close() waits up to busyTimeoutMs for writes queued behind another process's lock. */
  get closeWithinMs(): number {
    return this.options.busyTimeoutMs;
  }

  close(): void | Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.queue.stop();
    // busyTimeoutMs from here in all: the first wait (the tier's usual one) counts toward it.
    const started = performance.now();
    if (this.readonly || this.queue.size === 0 || this.drain(this.waitMs)) {
      this.finish();
      return this.reportLost(0);
    }
    const left = this.options.busyTimeoutMs - (performance.now() - started);
    return this.queue.settle(Math.max(0, left)).then((left) => {
      this.finish();
      this.reportLost(left);
    });
  }

  /** At close: throws when accepted writes never reached the file (`left` of them at the deadline). */
  private reportLost(left: number): void {
    const full = this.queue.dropped - this.queue.droppedAtFlush - left;
    this.queue.droppedAtFlush = this.queue.dropped;
    if (left === 0 && full === 0) return;
    const parts = [];
    if (left > 0)
      parts.push(
        `${left} were still waiting for another process's lock after ${this.options.busyTimeoutMs} ms (busyTimeoutMs)`,
      );
    if (full > 0) parts.push(`${full} were dropped from the full queue of writes waiting for the lock`);
    throw new WritesLostError(
      `${this.options.path}: ${left + full} accepted writes were not written before close: ${parts.join('; ')}`,
    );
  }

  private finish(): void {
    if (!this.readonly && this.damage === undefined) {
      try {
        this.flushAccess(this.waitMs, true);
        if (this.eviction.due) this.eviction.enforce();
      } catch {
        // locked or failing: the next process that opens the file trims it
      }
    }
    this.db.close();
  }

  /** Remembers a disk-level failure for health() (damage for good); returns the error to rethrow. */
  private noteFault(error: unknown): unknown {
    const code = String((error as { code?: unknown }).code ?? '');
    const fault = faultOf(this.options.path, code, (error as Error).message);
    if (fault) this.fault = `${this.options.path}: ${fault}`;
    if (isDamage(error)) {
      this.damage ??= `${this.options.path}: ${fault}; no bookkeeping is written to it any more (hit counts, statistics, purges, evictions)`;
    }
    return error;
  }

  /**
   * A failed statement as an error a person can act on (the SQLite error its cause): another process's
   * lock held past our wait, or a disk-level fault (remembered for health()).
   */
  private failure(error: unknown): unknown {
    this.noteFault(error);
    const code = String((error as { code?: unknown }).code ?? '');
    if (!isBusy(error) && faultOf(this.options.path, code, (error as Error).message) === undefined)
      return error;
    const reason = describeSqliteFailure(this.options.path, error as Error, this.waitMs);
    // The SQLite error, with its code, stays the cause.
    return new TierUnavailableError(reason, { cause: error });
  }

  /** Runs a statement; its failure described (see failure()). */
  private described<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw this.failure(error);
    }
  }

  private writable(): void {
    if (this.readonly) throw new TierReadOnlyError(`${this.options.path}: opened read-only`);
  }

  private schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** Runs `fn` with a different lock wait (background work waits only a few ms), then restores it. */
  private waiting<T>(ms: number, fn: () => T): T {
    if (ms === this.waitMs) return fn();
    this.db.pragma(`busy_timeout = ${ms}`);
    try {
      return fn();
    } finally {
      this.db.pragma(`busy_timeout = ${this.waitMs}`);
    }
  }

  /** Writes the whole queue in one transaction, waiting at most `waitMs` for the lock; true when it is empty. */
  private drain(waitMs: number): boolean {
    if (this.queue.size === 0) return true;
    const batch = this.queue.all();
    try {
      this.waiting(waitMs, () => {
        this.writeMany(batch);
        this.queue.clear();
        this.fault = undefined;
        this.afterWrite(batch.length);
      });
    } catch (error) {
      if (!isBusy(error)) this.noteFault(error);
      return false;
    }
    return true;
  }

  private afterWrite(count: number): void {
    this.eviction.afterWrite(count, this.damage !== undefined);
  }

  /** Daily statistics as persisted (UTC days, most recent first). */
  async daily(days: number): Promise<DailyStats[]> {
    this.flushAccess();
    return readDaily(this.stmt, days, this.options.clock.now());
  }

  /**
   * Writes batched access counts and the day's statistics in one transaction. When the lock
   * stays taken (or the write fails) the counts are kept for the next flush.
   */
  private flushAccess(waitMs = this.waitMs, closing = false): void {
    if (this.readonly || this.damage || (this.closed && !closing)) return;
    const taken = this.access.take();
    if (!taken) return;
    try {
      this.waiting(waitMs, () => writeAccess(this.db, this.stmt, this.name, taken, this.options.clock.now()));
    } catch (error) {
      this.access.giveBack(taken);
      if (!isBusy(error)) this.noteFault(error);
    }
  }
}
