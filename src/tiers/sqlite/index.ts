/**
 * SQLite tier: one file, WAL, prepared statements, versioned schema.
 *
 * The design document keyed its table by a UNIQUE prompt hash alone, which mixes the answers of
 * different models and tenants; here the primary key is the full cache key hash over
 * (namespace, sanitized llm string, prompt).
 *
 * Several processes may share one file: WAL lets readers run beside one writer, and a busy
 * timeout makes writers queue rather than fail. better-sqlite3 is synchronous, so a lookup costs
 * no promise or thread hop; hit bookkeeping (access_count, last_access_at) is batched into one
 * transaction per second instead of turning every read into a write.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../core/clock.js';
import type { StoredEntry } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import type {
  DailyStats,
  EvictionListener,
  ListedEntry,
  Tier,
  TierHealth,
  TierStats,
} from '../../core/tier.js';
import { every } from '../../core/upkeep.js';

export interface SqliteTierOptions {
  name?: string;
  /** Database file; ':memory:' for a private in-memory database. */
  path: string;
  /** Evict least recently used entries above this many (checked every `evictEvery` writes and on purge). */
  maxEntries?: number;
  /** Evict least recently used entries above this many payload bytes. */
  maxBytes?: number;
  /** How often expired rows are deleted in the background; 0 disables the timer. */
  purgeIntervalMs: number;
  /** How long a writer waits for another process's lock before failing. */
  busyTimeoutMs: number;
  clock: Clock;
  onEviction?: EvictionListener;
}

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
  // The design document's daily statistics, written in batches with the access counts.
  `CREATE TABLE cache_stats (
     day        TEXT NOT NULL,
     tier       TEXT NOT NULL,
     hits       INTEGER NOT NULL DEFAULT 0,
     misses     INTEGER NOT NULL DEFAULT 0,
     total      INTEGER NOT NULL DEFAULT 0,
     latency_ms REAL NOT NULL DEFAULT 0,
     PRIMARY KEY (day, tier)
   ) WITHOUT ROWID;`,
];

const EVICT_EVERY = 100;
const ACCESS_FLUSH_MS = 1_000;
const PAGE = 500;

export class SqliteTier implements Tier {
  readonly name: string;
  readonly type = 'sqlite';
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly pendingAccess = new Map<string, number>();
  private pendingStats = { hits: 0, misses: 0, latencyMs: 0 };
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly write: (key: CacheKey, entry: StoredEntry) => void;
  private writesSinceEviction = 0;
  private evictions = 0;
  private closed = false;

  constructor(private readonly options: SqliteTierOptions) {
    this.name = options.name ?? 'sqlite';
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path, { timeout: options.busyTimeoutMs });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    const db = this.db;
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
      perNamespace: db.prepare('SELECT namespace, count(*) AS entries FROM cache_entries GROUP BY namespace'),
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
    this.write = db.transaction((key: CacheKey, entry: StoredEntry) => {
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
    });
    if (options.purgeIntervalMs > 0) every(options.purgeIntervalMs, () => this.purgeExpired(), this.timers);
    every(ACCESS_FLUSH_MS, () => this.flushAccess(), this.timers);
  }

  get(key: CacheKey): string | undefined {
    const started = performance.now();
    const response = this.stmt.get.get(key.hash, this.options.clock.now()) as string | undefined;
    this.pendingStats.latencyMs += performance.now() - started;
    if (response === undefined) this.pendingStats.misses++;
    else {
      this.pendingStats.hits++;
      this.pendingAccess.set(key.hash, (this.pendingAccess.get(key.hash) ?? 0) + 1);
    }
    return response;
  }

  set(key: CacheKey, entry: StoredEntry): boolean {
    if (this.options.maxBytes !== undefined && entry.size > this.options.maxBytes) return false;
    this.write(key, entry);
    if (++this.writesSinceEviction >= EVICT_EVERY) this.enforceLimits();
    return true;
  }

  delete(key: CacheKey): boolean {
    this.pendingAccess.delete(key.hash);
    return this.stmt.delete.run(key.hash).changes > 0;
  }

  clear(namespace?: string): number {
    this.pendingAccess.clear();
    return namespace === undefined
      ? this.stmt.clearAll.run().changes
      : this.stmt.clearNamespace.run(namespace).changes;
  }

  invalidateTag(tag: string, namespace?: string): number {
    return this.stmt.invalidateTag.run({ tag, namespace: namespace ?? null }).changes;
  }

  purgeExpired(): number {
    const purged = this.stmt.purge.run(this.options.clock.now()).changes;
    this.enforceLimits();
    return purged;
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    // Paged by key so no statement stays open across a yield (the connection would be busy).
    let after = '';
    for (;;) {
      const rows = this.stmt.page.all({
        after,
        namespace: namespace ?? null,
        now: this.options.clock.now(),
      }) as PageRow[];
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
    const totals = this.stmt.totals.get() as { entries: number; bytes: number };
    const namespaces = this.stmt.perNamespace.all() as Array<{ namespace: string; entries: number }>;
    return {
      entries: totals.entries,
      bytes: totals.bytes,
      evictions: this.evictions,
      namespaces: Object.fromEntries(namespaces.map((n) => [n.namespace, n.entries])),
    };
  }

  health(): TierHealth {
    if (this.closed) return { status: 'down', reason: 'closed' };
    this.db.prepare('SELECT 1').get();
    return { status: 'up' };
  }

  close(): void {
    if (this.closed) return;
    for (const timer of this.timers) clearInterval(timer);
    this.flushAccess();
    this.closed = true;
    this.db.close();
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(
        `${this.options.path}: schema version ${version} was written by a newer Strata (this one knows ${MIGRATIONS.length})`,
      );
    }
    this.db
      .transaction(() => {
        // Re-read inside the write lock: another process may have migrated meanwhile.
        const current = this.db.pragma('user_version', { simple: true }) as number;
        for (let v = current; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
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

  /** Writes batched access counts and the day's statistics in one transaction. */
  private flushAccess(): void {
    const stats = this.pendingStats;
    if ((this.pendingAccess.size === 0 && stats.hits + stats.misses === 0) || this.closed) return;
    const now = this.options.clock.now();
    const pending = [...this.pendingAccess];
    this.pendingAccess.clear();
    this.pendingStats = { hits: 0, misses: 0, latencyMs: 0 };
    this.db.transaction(() => {
      for (const [hash, count] of pending) this.stmt.touch.run(count, now, hash);
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
    })();
  }

  /** Deletes least recently used rows until both limits hold. */
  private enforceLimits(): void {
    this.writesSinceEviction = 0;
    const { maxEntries, maxBytes } = this.options;
    if (maxEntries === undefined && maxBytes === undefined) return;
    this.flushAccess();
    for (;;) {
      const { entries, bytes } = this.stmt.totals.get() as { entries: number; bytes: number };
      let excess = maxEntries === undefined ? 0 : entries - maxEntries;
      if (maxBytes !== undefined && bytes > maxBytes) excess = Math.max(excess, Math.ceil(entries / 10), 1);
      if (excess <= 0) return;
      const evicted = this.stmt.evictOldest.all(excess) as string[];
      this.evictions += evicted.length;
      for (const hash of evicted) this.options.onEviction?.({ tier: this.name, hash, reason: 'lru' });
      if (evicted.length === 0) return;
    }
  }
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

interface PageRow {
  key_hash: string;
  namespace: string;
  response: string;
  access_count: number;
}
