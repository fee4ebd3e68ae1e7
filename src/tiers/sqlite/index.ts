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
 * Opening never takes a lock when the schema is current: the version is read first and only a
 * migration takes the write lock. Opened read-only (the CLI's inspecting commands), the tier
 * creates nothing: a file no other connection has open is read from a copy in memory (SQLite
 * would otherwise create -wal and -shm beside it, and cannot read a WAL file in a read-only
 * directory at all); one in use is read in place through the -wal and -shm its users keep.
 *
 * A file this version cannot use (damaged, not a database, a directory, read-only, written by a
 * newer version, someone else's `cache_entries`) fails the open with the reason, and is never
 * altered; createCache then keeps the tier down and retries. A file found damaged later (a read
 * meets SQLITE_CORRUPT) gets no more bookkeeping writes (hit counts, daily statistics, purges,
 * evictions, fleet counters): they would write into it.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AccessBatch } from '../../core/access-batch.js';
import type { Clock } from '../../core/clock.js';
import type { StoredEntry } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import {
  type CounterStore,
  type DailyStats,
  type EvictionListener,
  FLEET_RETENTION_MS,
  type ListedEntry,
  type Tier,
  type TierHealth,
  type TierStats,
} from '../../core/tier.js';
import { every } from '../../core/upkeep.js';
import { SqliteOpenError } from '../../errors.js';
import { isBusy, retryWhileBusy } from '../kit/sqlite-busy.js';
import type { SqliteTierConfig } from './config.js';

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

/** Each migration moves the schema from version (index) to version (index + 1). */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE cache_entries (
     key_hash       TEXT PRIMARY KEY,
     namespace      TEXT NOT NULL,
     prompt         TEXT,
     llm_string     TEXT NOT NULL,
     response       TEXT NOT NULL,
     metadata       TEXT,
     size           INTEGER NOT NULL,
     created_at     INTEGER NOT NULL,
     updated_at     INTEGER NOT NULL,
     last_access_at INTEGER NOT NULL,
     access_count   INTEGER NOT NULL DEFAULT 0,
     expires_at     INTEGER
   ) WITHOUT ROWID;
   CREATE INDEX cache_entries_expires ON cache_entries (expires_at) WHERE expires_at IS NOT NULL;
   CREATE INDEX cache_entries_namespace ON cache_entries (namespace);
   CREATE INDEX cache_entries_llm ON cache_entries (llm_string);
   CREATE INDEX cache_entries_lru ON cache_entries (last_access_at);
   CREATE TABLE cache_tags (
     tag      TEXT NOT NULL,
     key_hash TEXT NOT NULL REFERENCES cache_entries (key_hash) ON DELETE CASCADE,
     PRIMARY KEY (tag, key_hash)
   ) WITHOUT ROWID;
   CREATE INDEX cache_tags_key ON cache_tags (key_hash);`,
  // Daily statistics (`strata stats --days`), written in batches with the access counts.
  `CREATE TABLE cache_stats (
     day        TEXT NOT NULL,
     tier       TEXT NOT NULL,
     hits       INTEGER NOT NULL DEFAULT 0,
     misses     INTEGER NOT NULL DEFAULT 0,
     total      INTEGER NOT NULL DEFAULT 0,
     latency_ms REAL NOT NULL DEFAULT 0,
     PRIMARY KEY (day, tier)
   ) WITHOUT ROWID;`,
  // Each process's counters for `strata serve` to sum (core/fleet.ts): one row per process.
  `CREATE TABLE fleet_counters (
     process     TEXT PRIMARY KEY,
     reported_at INTEGER NOT NULL,
     snapshot    TEXT NOT NULL
   ) WITHOUT ROWID;`,
];

/** The columns of each table, as the migrations create them; another table of the same name is foreign. */
const TABLES: ReadonlyArray<{ name: string; since: number; columns: readonly string[] }> = [
  {
    name: 'cache_entries',
    since: 1,
    columns: [
      'key_hash',
      'namespace',
      'prompt',
      'llm_string',
      'response',
      'metadata',
      'size',
      'created_at',
      'updated_at',
      'last_access_at',
      'access_count',
      'expires_at',
    ],
  },
  { name: 'cache_tags', since: 1, columns: ['tag', 'key_hash'] },
  { name: 'cache_stats', since: 2, columns: ['day', 'tier', 'hits', 'misses', 'total', 'latency_ms'] },
  { name: 'fleet_counters', since: 3, columns: ['process', 'reported_at', 'snapshot'] },
];

const EVICT_EVERY = 100;
const ACCESS_FLUSH_MS = 1_000;
const PAGE = 500;
/** How long a background attempt (queued writes, batched counts, purge) waits for the lock. */
const BACKGROUND_WAIT_MS = 10;
const RETRY_MIN_MS = 25;
const RETRY_MAX_MS = 1_000;
/** The queue of writes waiting for the lock: beyond either bound, the oldest are dropped (a later miss). */
const QUEUE_MAX_ENTRIES = 1_000;
const QUEUE_MAX_BYTES = 32 * 1024 * 1024;
/**
 * Read-only, a file no other connection has open is read from a copy in memory up to this size;
 * a larger one is read in place, where SQLite creates -wal and -shm beside it if it can.
 */
const SNAPSHOT_MAX_BYTES = 1024 * 1024 * 1024;

interface Queued {
  readonly key: CacheKey;
  readonly entry: StoredEntry;
}

export class SqliteTier implements Tier {
  readonly name: string;
  readonly type = 'sqlite';
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly readonly: boolean;
  /** The longest any call waits for a lock: min(busyTimeoutMs, timeoutMs). */
  private readonly waitMs: number;
  private readonly evictEvery: number;
  /** Hit counts and daily statistics, written once a second (core/access-batch.ts). */
  private readonly access = new AccessBatch();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly write: (key: CacheKey, entry: StoredEntry) => void;
  private readonly writeMany: (items: Queued[]) => void;
  /** Writes that found the lock taken, oldest first, by key hash. */
  private readonly queue = new Map<string, Queued>();
  private queueBytes = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MIN_MS;
  private droppedWrites = 0;
  /** droppedWrites when flush() last reported. */
  private droppedAtFlush = 0;
  /** Starts due, so the first write of a process checks the limits (short-lived processes add up). */
  private writesSinceEviction: number;
  private evictions = 0;
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
    const m = options.maxEntries;
    this.evictEvery = m === undefined ? EVICT_EVERY : Math.max(1, Math.min(EVICT_EVERY, Math.floor(m / 10)));
    this.writesSinceEviction = this.evictEvery;
    this.db = this.open();
    const db = this.db;
    try {
      this.stmt = {
        get: db
          .prepare(
            'SELECT response FROM cache_entries WHERE key_hash = ? AND (expires_at IS NULL OR expires_at > ?)',
          )
          .pluck(),
        upsert: db.prepare(
          `INSERT INTO cache_entries (key_hash, namespace, prompt, llm_string, response, metadata, size,
                                      created_at, updated_at, last_access_at, expires_at)
           VALUES (@hash, @namespace, @prompt, @llm, @response, @metadata, @size, @created, @now, @now, @expires)
           ON CONFLICT (key_hash) DO UPDATE SET
             namespace = excluded.namespace, prompt = excluded.prompt, llm_string = excluded.llm_string,
             response = excluded.response, metadata = excluded.metadata, size = excluded.size,
             created_at = excluded.created_at, updated_at = excluded.updated_at,
             last_access_at = excluded.last_access_at, expires_at = excluded.expires_at`,
        ),
        clearTags: db.prepare('DELETE FROM cache_tags WHERE key_hash = ?'),
        addTag: db.prepare('INSERT OR IGNORE INTO cache_tags (tag, key_hash) VALUES (?, ?)'),
        delete: db.prepare('DELETE FROM cache_entries WHERE key_hash = ?'),
        clearAll: db.prepare('DELETE FROM cache_entries'),
        clearNamespace: db.prepare('DELETE FROM cache_entries WHERE namespace = ?'),
        invalidateTag: db.prepare(
          `DELETE FROM cache_entries WHERE key_hash IN (SELECT key_hash FROM cache_tags WHERE tag = @tag)
             AND (@namespace IS NULL OR namespace = @namespace)`,
        ),
        purge: db.prepare('DELETE FROM cache_entries WHERE expires_at IS NOT NULL AND expires_at <= ?'),
        touch: db.prepare(
          'UPDATE cache_entries SET access_count = access_count + ?, last_access_at = max(last_access_at, ?) WHERE key_hash = ?',
        ),
        totals: db.prepare('SELECT count(*) AS entries, coalesce(sum(size), 0) AS bytes FROM cache_entries'),
        perNamespace: db.prepare(
          'SELECT namespace, count(*) AS entries FROM cache_entries GROUP BY namespace',
        ),
        evictOldest: db
          .prepare(
            'DELETE FROM cache_entries WHERE key_hash IN (SELECT key_hash FROM cache_entries ORDER BY last_access_at LIMIT ?) RETURNING key_hash',
          )
          .pluck(),
        addStats: db.prepare(
          `INSERT INTO cache_stats (day, tier, hits, misses, total, latency_ms) VALUES (@day, @tier, @hits, @misses, @total, @latency)
           ON CONFLICT (day, tier) DO UPDATE SET hits = hits + excluded.hits, misses = misses + excluded.misses,
             total = total + excluded.total, latency_ms = latency_ms + excluded.latency_ms`,
        ),
        daily: db.prepare(
          'SELECT day, tier, hits, misses, total, latency_ms FROM cache_stats WHERE day >= ? ORDER BY day DESC, tier',
        ),
        page: db.prepare(
          `SELECT key_hash, namespace, response, access_count FROM cache_entries
            WHERE key_hash > @after AND (@namespace IS NULL OR namespace = @namespace)
              AND (expires_at IS NULL OR expires_at > @now)
            ORDER BY key_hash LIMIT ${PAGE}`,
        ),
      };
    } catch (error) {
      db.close();
      throw this.describe(error);
    }
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
      this.enqueue({ key, entry });
      return true;
    }
    try {
      this.write(key, entry);
    } catch (error) {
      if (!isBusy(error) || this.confirmWrites) throw this.failure(error);
      this.enqueue({ key, entry });
      return true;
    }
    this.fault = undefined;
    this.afterWrite(1);
    return true;
  }

  delete(key: CacheKey): boolean {
    this.writable();
    this.access.forget(key.hash);
    const queued = this.dequeue((q) => q.key.hash === key.hash) > 0;
    return this.described(() => this.stmt.delete.run(key.hash).changes > 0) || queued;
  }

  clear(namespace?: string): number {
    this.writable();
    this.access.forgetAll();
    const queued = this.dequeue((q) => namespace === undefined || q.key.namespace === namespace);
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
    const queued = this.dequeue(
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
      this.enforceLimits();
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
    const dropped = this.droppedWrites - this.droppedAtFlush;
    if (this.queue.size > 0 && !this.closed && !this.drain(this.waitMs)) {
      const lost = this.queue.size;
      this.queue.clear();
      this.queueBytes = 0;
      this.droppedWrites += lost;
      this.droppedAtFlush = this.droppedWrites;
      const why =
        this.fault ?? `${this.options.path}: locked by another process for more than ${this.waitMs} ms`;
      throw new Error(`${why}; ${lost + dropped} accepted writes were not written`);
    }
    this.droppedAtFlush = this.droppedWrites;
    if (dropped > 0) {
      throw new Error(
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
        yield* this.readable(namespace, after, error as Error);
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

  /**
   * The entries after `after` that a damaged file still yields, row by row. Their keys are
   * gathered from every structure that names them, each read until it fails: the table forwards
   * and backwards (around a damaged page), and the namespace, model and recency indexes. Each
   * row is then read by its key; one that fails is counted. Ends by throwing what could not be
   * read, so a listing of a damaged file never passes for a complete one.
   */
  private *readable(namespace: string | undefined, after: string, cause: Error): Generator<ListedEntry> {
    const keys = new Set<string>();
    // Whether some structure that names every entry was read to its end.
    let complete = false;
    const scans = [
      ['', 'key_hash'],
      [' INDEXED BY cache_entries_namespace', 'namespace'],
      [' INDEXED BY cache_entries_llm', 'llm_string'],
      [' INDEXED BY cache_entries_lru', 'last_access_at'],
    ].flatMap(([index, column]) =>
      ['', ' DESC'].map(
        (order) => `SELECT key_hash FROM cache_entries${index} WHERE key_hash > ? ORDER BY ${column}${order}`,
      ),
    );
    for (const sql of scans) {
      try {
        for (const key of this.db.prepare(sql).pluck().iterate(after) as Iterable<string>) keys.add(key);
        complete = true;
      } catch {
        // read up to the damage; the other structures may name the rest
      }
    }
    const columns = 'key_hash, namespace, response, access_count, expires_at';
    const byKey = this.db.prepare(`SELECT ${columns} FROM cache_entries WHERE key_hash = ?`);
    const now = this.options.clock.now();
    const live = (row: RecoveredRow): ListedEntry | undefined =>
      (namespace !== undefined && row.namespace !== namespace) ||
      (row.expires_at !== null && row.expires_at <= now)
        ? undefined
        : {
            namespace: row.namespace,
            hash: row.key_hash,
            payload: row.response,
            accessCount: row.access_count,
          };
    // Keys whose row could not be read by key, since the last one that could.
    let run: string[] = [];
    let unreadable = 0;
    // A row SQLite cannot find by its key may still be read in a range: in a WITHOUT ROWID table
    // the row that divides two pages lives above them, and a search for it goes through the
    // damaged page on its left, while reading backwards from the next row reaches it first.
    const aroundRun = (before: string | undefined): ListedEntry[] => {
      const found = new Map<string, RecoveredRow>();
      try {
        const rows = (
          before === undefined
            ? this.db.prepare(
                `SELECT ${columns} FROM cache_entries WHERE key_hash >= ? ORDER BY key_hash DESC`,
              )
            : this.db.prepare(
                `SELECT ${columns} FROM cache_entries WHERE key_hash >= ? AND key_hash < ? ORDER BY key_hash DESC`,
              )
        ).iterate(...(before === undefined ? [run[0]] : [run[0], before])) as Iterable<RecoveredRow>;
        for (const row of rows) found.set(row.key_hash, row);
      } catch {
        // read down to the damage
      }
      unreadable += run.filter((key) => !found.has(key)).length;
      run = [];
      return [...found.values()].reverse().flatMap((row) => live(row) ?? []);
    };
    for (const key of [...keys].sort()) {
      let row: RecoveredRow | undefined;
      try {
        row = byKey.get(key) as RecoveredRow | undefined;
      } catch {
        run.push(key);
        continue;
      }
      if (run.length > 0) yield* aroundRun(key);
      const entry = row && live(row);
      if (entry) yield entry;
    }
    if (run.length > 0) yield* aroundRun(undefined);
    if (complete && unreadable === 0) return;
    const scope = namespace === undefined ? '' : ' (of any namespace)';
    const lost = complete
      ? `${unreadable} entries${scope} could not be read`
      : `${unreadable > 0 ? `${unreadable} entries${scope}, and an unknown number more,` : 'an unknown number of entries'} could not be read`;
    throw Object.assign(
      new Error(`${this.options.path}: malformed: ${lost}; every other entry was listed (${cause.message})`, {
        cause,
      }),
      { code: (cause as { code?: unknown }).code },
    );
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
      evictions: this.evictions,
      queuedWrites: this.queue.size,
      droppedWrites: this.droppedWrites,
      namespaces: Object.fromEntries(namespaces.map((n) => [n.namespace, n.entries])),
    };
  }

  health(): TierHealth {
    if (this.closed) return { status: 'down', reason: 'closed' };
    if (this.damage) return { status: 'down', reason: this.damage };
    if (this.fault) return { status: 'down', reason: this.fault };
    this.db.prepare('SELECT 1').get();
    if (this.options.integrityCheck) {
      const problem = this.integrityProblem();
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
   * returned promise settles when it is done; a short-lived process thus lands its writes.
   */
  close(): void | Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.retryTimer);
    if (this.readonly || this.queue.size === 0 || this.drain(this.waitMs)) return this.finish();
    const deadline = performance.now() + this.options.busyTimeoutMs;
    return new Promise<void>((resolve) => {
      let delay = RETRY_MIN_MS;
      const retry = () => {
        if (this.drain(BACKGROUND_WAIT_MS) || performance.now() >= deadline) {
          this.droppedWrites += this.queue.size;
          this.finish();
          resolve();
          return;
        }
        delay = Math.min(delay * 2, RETRY_MAX_MS);
        setTimeout(retry, delay); // not unref'd: the process waits for its writes (bounded above)
      };
      setTimeout(retry, delay);
    });
  }

  private finish(): void {
    if (!this.readonly && this.damage === undefined) {
      try {
        this.flushAccess(this.waitMs, true);
        if (this.writesSinceEviction > 0) this.enforceLimits();
      } catch {
        // locked or failing: the next process that opens the file trims it
      }
    }
    this.db.close();
  }

  /** Opens the file and brings its schema up to date, or fails with the reason; never alters a file it cannot use. */
  private open(): Database.Database {
    const { path } = this.options;
    const onDisk = path !== ':memory:' && !path.startsWith('file:');
    if (onDisk) {
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat?.isDirectory()) throw new SqliteOpenError(`${path}: is a directory, not a database file`);
      if (this.readonly && !stat) {
        throw new SqliteOpenError(`${path}: missing (no such file; opened read-only, nothing was created)`);
      }
      if (!this.readonly) {
        try {
          mkdirSync(dirname(path), { recursive: true });
          if (stat) accessSync(path, constants.W_OK);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
            throw new SqliteOpenError(
              `${path}: read-only file or directory (${code}); cannot keep it up to date`,
            );
          }
          throw new SqliteOpenError(`${path}: cannot open (${(error as Error).message})`);
        }
      }
    }
    let db: Database.Database;
    try {
      db =
        this.readonly && onDisk
          ? this.openReadOnly(path)
          : new Database(path, {
              timeout: this.waitMs,
              ...(this.readonly ? { readonly: true, fileMustExist: true } : {}),
            });
    } catch (error) {
      throw this.describe(error);
    }
    try {
      this.prepareSchema(db);
      return db;
    } catch (error) {
      db.close();
      throw this.describe(error);
    }
  }

  /**
   * Opens an existing file read-only and creates nothing. A WAL file's readers need its -shm
   * (SQLite creates it, and -wal, when they are missing, and fails where it cannot: a read-only
   * directory). So: when another connection has the file open, its -wal and -shm exist and the
   * file is read in place through them (so is a file with a rollback -journal). When neither
   * exists, the file alone holds every committed transaction, and a copy of it is read from
   * memory, unless the file changed while it was copied (then, or when it is larger than
   * SNAPSHOT_MAX_BYTES, it is read in place).
   */
  private openReadOnly(path: string): Database.Database {
    for (let tries = 0; tries < 3; tries++) {
      if (['-wal', '-shm', '-journal'].some((suffix) => existsSync(`${path}${suffix}`))) break;
      const before = statSync(path);
      if (before.size > SNAPSHOT_MAX_BYTES) break;
      const bytes = readFileSync(path);
      const after = statSync(path);
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || bytes.length !== after.size)
        continue;
      // Header bytes 18-19 say 2 for WAL; an in-memory database cannot keep a WAL, and reads the
      // same pages in rollback mode (the copy only: the file is not touched).
      if (bytes.length >= 20 && bytes[18] === 2 && bytes[19] === 2) {
        bytes[18] = 1;
        bytes[19] = 1;
      }
      return new Database(bytes, { readonly: true, timeout: this.waitMs });
    }
    try {
      return new Database(path, { readonly: true, fileMustExist: true, timeout: this.waitMs });
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_CANTOPEN') throw error;
      throw new SqliteOpenError(
        `${path}: cannot be opened read-only in place (${(error as Error).message}): a WAL file in use ` +
          `or larger than 1 GiB is read through its ${path}-shm, which cannot be created here`,
      );
    }
  }

  /** Checks the file, switches it to WAL and migrates it (again while a racing opener holds a lock). */
  private prepareSchema(db: Database.Database): void {
    retryWhileBusy(this.waitMs, () => this.checkAndMigrate(db));
  }

  private checkAndMigrate(db: Database.Database): void {
    const { path } = this.options;
    // One read transaction, so the version and the tables come from one state of the file: read
    // apart, a migration committed by another process in between looks like a foreign table.
    const version = db.transaction(() => {
      const found = db.pragma('user_version', { simple: true }) as number;
      this.checkVersion(found);
      this.checkTables(db, found);
      return found;
    })();
    if (this.readonly) {
      if (version < MIGRATIONS.length) {
        throw new SqliteOpenError(
          `${path}: schema version ${version} is older than this version's ${MIGRATIONS.length}; opened read-only, so it is not upgraded`,
        );
      }
      return;
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // A current schema needs no lock at all; only a migration takes the write lock.
    if (version < MIGRATIONS.length) {
      db.transaction(() => {
        // Re-read inside the write lock: another process may have migrated meanwhile.
        const current = db.pragma('user_version', { simple: true }) as number;
        this.checkVersion(current);
        this.checkTables(db, current);
        for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
        db.pragma(`user_version = ${MIGRATIONS.length}`);
      }).immediate();
    }
  }

  private checkVersion(version: number): void {
    if (version > MIGRATIONS.length) {
      throw new SqliteOpenError(
        `${this.options.path}: written by a newer version (user_version ${version} > ${MIGRATIONS.length}); left untouched`,
      );
    }
  }

  /** Each of our tables that exists must have our columns, and exist exactly when the version says so. */
  private checkTables(db: Database.Database, version: number): void {
    for (const table of TABLES) {
      const columns = (db.pragma(`table_info(${table.name})`) as Array<{ name: string }>).map((c) => c.name);
      const expected = version >= table.since;
      if (
        columns.length > 0 &&
        (columns.length !== table.columns.length || !table.columns.every((c) => columns.includes(c)))
      ) {
        throw new SqliteOpenError(
          `${this.options.path}: table ${table.name} is not a Strata table (columns: ${columns.join(', ')}); left untouched`,
        );
      }
      if (columns.length > 0 && !expected) {
        throw new SqliteOpenError(
          `${this.options.path}: table ${table.name} exists but user_version is ${version}: not a Strata table; left untouched`,
        );
      }
      if (columns.length === 0 && expected) {
        throw new SqliteOpenError(
          `${this.options.path}: user_version ${version} but no table ${table.name}: not a Strata cache file`,
        );
      }
    }
  }

  /** A SQLite or file-system error at open, as a reason a person can act on. */
  private describe(error: unknown): Error {
    if (error instanceof SqliteOpenError) return error;
    return new SqliteOpenError(describeSqliteFailure(this.options.path, error as Error, this.waitMs));
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
   * A failed statement as an error a person can act on, its SQLite code kept: another process's
   * lock held past our wait, or a disk-level fault (remembered for health()).
   */
  private failure(error: unknown): unknown {
    this.noteFault(error);
    const code = String((error as { code?: unknown }).code ?? '');
    if (!isBusy(error) && faultOf(this.options.path, code, (error as Error).message) === undefined)
      return error;
    const reason = describeSqliteFailure(this.options.path, error as Error, this.waitMs);
    return Object.assign(new Error(reason, { cause: error }), { code });
  }

  /** Runs a statement; its failure described (see failure()). */
  private described<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw this.failure(error);
    }
  }

  /** PRAGMA quick_check and the free space next to the file; undefined when both are fine. */
  private integrityProblem(): string | undefined {
    const { path } = this.options;
    try {
      const rows = this.db.pragma('quick_check(5)', { simple: false }) as Array<{ quick_check: string }>;
      const problems = rows
        .flatMap((r) => r.quick_check.split('\n'))
        .filter((line) => line !== 'ok' && !line.startsWith('***'));
      if (problems.length > 0) return `${path}: malformed (quick_check: ${problems.join('; ')})`;
    } catch (error) {
      return this.describe(error).message;
    }
    if (path !== ':memory:') {
      const fs = statfsSync(dirname(path));
      if (fs.bavail === 0) return `${path}: disk full (no free space left in ${dirname(path)})`;
    }
    return undefined;
  }

  private writable(): void {
    if (this.readonly) throw new Error(`${this.options.path}: opened read-only`);
  }

  /** Runs `fn` with a different lock wait (background work waits only a few ms), then restores it. */
  private schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private waiting<T>(ms: number, fn: () => T): T {
    if (ms === this.waitMs) return fn();
    this.db.pragma(`busy_timeout = ${ms}`);
    try {
      return fn();
    } finally {
      this.db.pragma(`busy_timeout = ${this.waitMs}`);
    }
  }

  private enqueue(item: Queued): void {
    const previous = this.queue.get(item.key.hash);
    if (previous) {
      this.queue.delete(item.key.hash);
      this.queueBytes -= previous.entry.size;
    }
    this.queue.set(item.key.hash, item);
    this.queueBytes += item.entry.size;
    while (
      this.queue.size > QUEUE_MAX_ENTRIES ||
      (this.queueBytes > QUEUE_MAX_BYTES && this.queue.size > 1)
    ) {
      const [hash, oldest] = this.queue.entries().next().value as [string, Queued];
      this.queue.delete(hash);
      this.queueBytes -= oldest.entry.size;
      this.droppedWrites++;
    }
    this.scheduleRetry();
  }

  /** Removes queued writes that match; returns how many. */
  private dequeue(matches: (item: Queued) => boolean): number {
    if (this.queue.size === 0) return 0;
    let removed = 0;
    for (const [hash, item] of this.queue) {
      if (!matches(item)) continue;
      this.queue.delete(hash);
      this.queueBytes -= item.entry.size;
      removed++;
    }
    return removed;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed) return;
      if (this.drain(BACKGROUND_WAIT_MS)) this.retryDelay = RETRY_MIN_MS;
      else {
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
        this.scheduleRetry();
      }
    }, this.retryDelay);
    this.retryTimer.unref();
  }

  /** Writes the whole queue in one transaction, waiting at most `waitMs` for the lock; true when it is empty. */
  private drain(waitMs: number): boolean {
    if (this.queue.size === 0) return true;
    const batch = [...this.queue.values()];
    try {
      this.waiting(waitMs, () => {
        this.writeMany(batch);
        this.queue.clear();
        this.queueBytes = 0;
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
    this.writesSinceEviction += count;
    if (this.writesSinceEviction < this.evictEvery || this.damage) return;
    try {
      this.enforceLimits();
    } catch {
      // locked: checked again on the next write
    }
  }

  /** Daily statistics as persisted (UTC days, most recent first). */
  async daily(days: number): Promise<DailyStats[]> {
    this.flushAccess();
    const since = utcDay(this.options.clock.now() - (days - 1) * 86_400_000);
    const rows = this.stmt.daily.all(since) as Array<{
      day: string;
      tier: string;
      hits: number;
      misses: number;
      total: number;
      latency_ms: number;
    }>;
    return rows.map((r) => ({
      day: r.day,
      tier: r.tier,
      hits: r.hits,
      misses: r.misses,
      avgLatencyMs: r.total === 0 ? 0 : r.latency_ms / r.total,
    }));
  }

  /**
   * Writes batched access counts and the day's statistics in one transaction. When the lock
   * stays taken (or the write fails) the counts are kept for the next flush.
   */
  private flushAccess(waitMs = this.waitMs, closing = false): void {
    if (this.readonly || this.damage || (this.closed && !closing)) return;
    const taken = this.access.take();
    if (!taken) return;
    const { counts, totals: stats } = taken;
    const now = this.options.clock.now();
    try {
      this.waiting(waitMs, () =>
        this.db.transaction(() => {
          for (const [hash, count] of counts) this.stmt.touch.run(count, now, hash);
          if (stats.hits + stats.misses > 0) {
            this.stmt.addStats.run({
              day: utcDay(now),
              tier: this.name,
              hits: stats.hits,
              misses: stats.misses,
              total: stats.hits + stats.misses,
              latency: stats.latencyMs,
            });
          }
        })(),
      );
    } catch (error) {
      this.access.giveBack(taken);
      if (!isBusy(error)) this.noteFault(error);
    }
  }

  /** Deletes least recently used rows until both limits hold. */
  private enforceLimits(): void {
    const { maxEntries, maxBytes } = this.options;
    if (maxEntries === undefined && maxBytes === undefined) {
      this.writesSinceEviction = 0;
      return;
    }
    this.flushAccess();
    for (;;) {
      const { entries, bytes } = this.stmt.totals.get() as { entries: number; bytes: number };
      let excess = maxEntries === undefined ? 0 : entries - maxEntries;
      if (maxBytes !== undefined && bytes > maxBytes) excess = Math.max(excess, Math.ceil(entries / 10), 1);
      if (excess <= 0) break;
      const evicted = this.stmt.evictOldest.all(excess) as string[];
      this.evictions += evicted.length;
      for (const hash of evicted) this.options.onEviction?.({ tier: this.name, hash, reason: 'lru' });
      if (evicted.length === 0) break;
    }
    this.writesSinceEviction = 0;
  }
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A SQLite failure (its result code and message) on the file at `path`, as a reason a person can act on. */
export function describeSqliteFailure(
  path: string,
  error: { code?: unknown; message: string },
  waitedMs?: number,
): string {
  const code = String(error.code ?? '');
  if (isBusy(error)) {
    const waited = waitedMs === undefined ? '' : ` for more than ${waitedMs} ms`;
    return `${path}: locked by another process${waited} (${error.message})`;
  }
  if (code === 'SQLITE_CANTOPEN') return `${path}: cannot open (${error.message})`;
  return `${path}: ${faultOf(path, code, error.message) ?? error.message}`;
}

/** The disk-level failures health() reports, by SQLite result code. */
function faultOf(path: string, code: string, message: string): string | undefined {
  // SQLite grows the shared-memory file beside a WAL database when it opens it: on a full disk
  // that, not the database, is what fails first.
  if (code === 'SQLITE_IOERR_SHMSIZE') {
    return `no space left on device for ${path}-shm (SQLite could not grow the shared-memory file it keeps beside a WAL database; ${code}: ${message})`;
  }
  if (code === 'SQLITE_FULL') return `disk full: no space left on device (${message})`;
  if (code.startsWith('SQLITE_READONLY')) return `read-only (${message})`;
  if (code.startsWith('SQLITE_CORRUPT')) return `malformed (${message})`;
  if (code === 'SQLITE_NOTADB') return `not a database (${message})`;
  if (code.startsWith('SQLITE_IOERR')) return `I/O error (${code}: ${message})`;
  return undefined;
}

/** The file is damaged: its pages cannot be read as a database. */
function isDamage(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || code === 'SQLITE_IOERR_SHORT_READ';
}

interface PageRow {
  key_hash: string;
  namespace: string;
  response: string;
  access_count: number;
}

type RecoveredRow = PageRow & { expires_at: number | null };
