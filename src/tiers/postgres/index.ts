/**
 * PostgreSQL tier: entries, tags and daily statistics in three tables, the same shape as the
 * MySQL tier.
 *
 *   <prefix>cache   one row per entry; the primary key is the full key hash over (namespace,
 *                   sanitized llm string, prompt), never the prompt hash alone; upserts bump
 *                   cache_version; prompt_tsv is a generated full-text vector of the prompt
 *   <prefix>tags    (key_hash, tag) with ON DELETE CASCADE
 *   <prefix>stats   hits, misses and latency per day and tier, written in batches
 *   <prefix>fleet_counters  every process's counters for `strata serve` (core/fleet.ts), one row
 *                   per process replaced at each report
 * plus <prefix>migrations, the applied schema versions (one migrator at a time, by advisory lock).
 *
 * Every statement has bound parameters; the hit path's SELECT is a named prepared statement, so
 * each pooled connection parses and plans it once, and runs on a connection kept out of the pool
 * when one is idle (readers.ts). Hit bookkeeping and daily statistics are
 * flushed once a second in one transaction, so a lookup is one indexed read. A lost server or
 * an exhausted pool fails the call (the pool waits at most connectTimeoutMs for a connection),
 * and the manager's timeout turns a slow one into a miss.
 *
 * PostgreSQL text cannot hold U+0000, and stores a lone surrogate as U+FFFD. The payload is JSON
 * (which escapes both). Namespaces, tags and llm strings are stored escaped (`toColumn`: only %,
 * U+0000 and lone surrogates change), so they stay exact and distinct; the prompt column, kept
 * for `strata search` and inspection only, is stored without U+0000. The entry itself, and the
 * prompt inside its payload, are kept exactly.
 */
import pg from 'pg';
import type { Clock } from '../../core/clock.js';
import type { StoredEntry } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import {
  type CounterStore,
  type DailyStats,
  type EntryRef,
  FLEET_RETENTION_MS,
  FLEET_ROW_MAX_CHARS,
  type ListedEntry,
  type SearchResult,
  type Tier,
  type TierHealth,
  type TierStats,
} from '../../core/tier.js';
import { TierConfigError } from '../../errors.js';
import { migrate } from '../kit/migrate.js';
import {
  fromColumn,
  PG_TABLE_PREFIX,
  PG_TABLE_PREFIX_RULE,
  toColumn,
  transaction,
  withoutNul,
} from '../kit/postgres-sql.js';
import { ServerTier } from '../kit/server-tier.js';
import type { PostgresTierConfig } from './config.js';
import { Readers } from './readers.js';

/** The fields of config.ts, with the purge period in ms. */
export type PostgresTierOptions = Pick<
  PostgresTierConfig,
  'url' | 'host' | 'user' | 'password' | 'database' | 'poolSize' | 'tablePrefix' | 'connectTimeoutMs'
> &
  Partial<Pick<PostgresTierConfig, 'port'>> & {
    name?: string;
    purgeIntervalMs: number;
    clock: Clock;
    /** For errors of idle pooled connections (a server restart), reported outside any call. */
    onClientError?: (error: Error) => void;
  };

/**
 * `strata search` indexes the first this many characters of a prompt: a tsvector holds at most
 * 1 MB, which a prompt of a few hundred KB of distinct tokens (a pasted file) exceeds, and the
 * write would fail. 100k characters of distinct tokens stay well under it.
 */
const SEARCHED_CHARS = 100_000;
const PURGE_BATCH = 500;
const PAGE = 500;

/**
 * Created beside the versioned tables, not as a schema version: an older Strata sharing the
 * database (a fleet upgraded one process at a time) would refuse a newer version and lose the
 * tier, while an extra table is nothing to it.
 */
const fleetTable = (t: string) =>
  `CREATE TABLE IF NOT EXISTS ${t}fleet_counters (
     process     text PRIMARY KEY,
     reported_at bigint NOT NULL,
     snapshot    text NOT NULL
   )`;

function migrations(t: string): string[][] {
  return [
    [
      `CREATE TABLE ${t}cache (
         key_hash      text PRIMARY KEY,
         namespace     text NOT NULL,
         prompt        text NULL,
         llm_string    text NOT NULL,
         response      text NOT NULL,
         metadata      jsonb NULL,
         size          integer NOT NULL,
         created_at    bigint NOT NULL,
         updated_at    bigint NOT NULL,
         expires_at    bigint NULL,
         access_count  bigint NOT NULL DEFAULT 0,
         cache_version integer NOT NULL DEFAULT 1,
         prompt_tsv    tsvector GENERATED ALWAYS AS (to_tsvector('simple', left(coalesce(prompt, ''), ${SEARCHED_CHARS}))) STORED
       )`,
      `CREATE INDEX ${t}cache_expires ON ${t}cache (expires_at) WHERE expires_at IS NOT NULL`,
      `CREATE INDEX ${t}cache_namespace ON ${t}cache (namespace)`,
      `CREATE INDEX ${t}cache_prompt ON ${t}cache USING gin (prompt_tsv)`,
      `CREATE TABLE ${t}tags (
         key_hash text NOT NULL REFERENCES ${t}cache (key_hash) ON DELETE CASCADE,
         tag      text NOT NULL,
         PRIMARY KEY (key_hash, tag)
       )`,
      `CREATE INDEX ${t}tags_tag ON ${t}tags (tag)`,
      `CREATE TABLE ${t}stats (
         day        date NOT NULL,
         tier       text NOT NULL,
         hits       bigint NOT NULL DEFAULT 0,
         misses     bigint NOT NULL DEFAULT 0,
         total      bigint NOT NULL DEFAULT 0,
         latency_ms double precision NOT NULL DEFAULT 0,
         PRIMARY KEY (day, tier)
       )`,
    ],
  ];
}

export class PostgresTier extends ServerTier implements Tier {
  readonly name: string;
  readonly type = 'postgres';
  private readonly pool: pg.Pool;
  /**
   * Connections kept for the hit SELECT (readers.ts): half the pool, rounded down, so that the
   * pool always has connections left for writes and for hits arriving while every reader is busy.
   */
  private readonly readers: Readers;
  private readonly t: string;
  /** The hit path's statement, prepared once per connection under this name. */
  private readonly selectHit: pg.QueryConfig<[string]>;

  /** Processes sharing this database report their counters here (core/fleet.ts). */
  readonly counters: CounterStore = {
    publish: async (process, snapshot, at) => {
      await this.setup.ready();
      await this.pool.query(
        `INSERT INTO ${this.t}fleet_counters (process, reported_at, snapshot) VALUES ($1, $2, $3)
         ON CONFLICT (process) DO UPDATE SET reported_at = excluded.reported_at, snapshot = excluded.snapshot`,
        [toColumn(process), at, snapshot],
      );
      await this.pool.query(`DELETE FROM ${this.t}fleet_counters WHERE reported_at < $1`, [
        at - FLEET_RETENTION_MS,
      ]);
    },
    read: async (since) => {
      await this.setup.ready();
      // A row too long to be a snapshot is not fetched: the reader skips it (and counts it).
      const { rows } = await this.pool.query<{ snapshot: string }>(
        `SELECT CASE WHEN length(snapshot) > $2 THEN '' ELSE snapshot END AS snapshot
           FROM ${this.t}fleet_counters WHERE reported_at >= $1`,
        [since, FLEET_ROW_MAX_CHARS],
      );
      return rows.map((r) => r.snapshot);
    },
  };

  constructor(private readonly options: PostgresTierOptions) {
    super();
    this.name = options.name ?? 'postgres';
    if (!PG_TABLE_PREFIX.test(options.tablePrefix))
      throw new TierConfigError(`tablePrefix: ${PG_TABLE_PREFIX_RULE}`);
    this.t = options.tablePrefix;
    this.selectHit = {
      name: `strata_get_${this.t}`,
      text: `SELECT response, expires_at FROM ${this.t}cache WHERE key_hash = $1`,
      values: [''],
    };
    const connection = options.url
      ? { connectionString: options.url }
      : {
          host: options.host,
          port: options.port,
          user: options.user,
          password: options.password,
          database: options.database,
        };
    this.pool = new pg.Pool({
      ...connection,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'strata',
    });
    // An idle client's error event without a listener would crash the process.
    this.pool.on('error', (error) => options.onClientError?.(error));
    this.readers = new Readers(this.pool, Math.floor(options.poolSize / 2), options.poolSize);
    this.startUpkeep(options.purgeIntervalMs);
  }

  get(key: CacheKey): Promise<string | undefined> {
    if (!this.setup.done) return this.setup.ready().then(() => this.get(key));
    const started = performance.now();
    return this.readers
      .query<{ response: string; expires_at: string | null }>({ ...this.selectHit, values: [key.hash] })
      .then(({ rows }) => {
        const row = rows[0];
        // Expiry is checked here rather than in SQL: a bare primary-key lookup is the cheapest statement.
        const live = row && (row.expires_at === null || Number(row.expires_at) > this.options.clock.now());
        const response = live ? row.response : undefined;
        this.access.record(response === undefined ? undefined : key.hash, performance.now() - started);
        return response;
      });
  }

  async set(key: CacheKey, entry: StoredEntry): Promise<boolean> {
    await this.setup.ready();
    await this.transaction(async (c) => {
      await c.query(
        `INSERT INTO ${this.t}cache (key_hash, namespace, prompt, llm_string, response, metadata, size, created_at, updated_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (key_hash) DO UPDATE SET namespace = excluded.namespace, prompt = excluded.prompt,
           llm_string = excluded.llm_string, response = excluded.response, metadata = excluded.metadata,
           size = excluded.size, created_at = excluded.created_at, updated_at = excluded.updated_at,
           expires_at = excluded.expires_at, cache_version = ${this.t}cache.cache_version + 1`,
        [
          key.hash,
          toColumn(key.namespace),
          entry.prompt === undefined ? null : withoutNul(entry.prompt),
          toColumn(key.llmString),
          entry.payload,
          entry.metadata === undefined ? null : JSON.stringify(entry.metadata),
          entry.size,
          entry.createdAt,
          this.options.clock.now(),
          entry.expiresAt,
        ],
      );
      await c.query(`DELETE FROM ${this.t}tags WHERE key_hash = $1`, [key.hash]);
      if (entry.tags.length > 0) {
        await c.query(
          `INSERT INTO ${this.t}tags (key_hash, tag) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
          [key.hash, [...new Set(entry.tags)].map(toColumn)],
        );
      }
    });
    return true;
  }

  async replacePayload(entry: EntryRef, expected: string, payload: string): Promise<boolean> {
    await this.setup.ready();
    const result = await this.pool.query(
      `UPDATE ${this.t}cache SET response = $3, size = $4, prompt = NULL, cache_version = cache_version + 1
        WHERE key_hash = $1 AND namespace = $2 AND response = $5`,
      [entry.hash, toColumn(entry.namespace), payload, Buffer.byteLength(payload, 'utf8'), expected],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async delete(key: CacheKey): Promise<boolean> {
    await this.setup.ready();
    this.access.forget(key.hash);
    const result = await this.pool.query(`DELETE FROM ${this.t}cache WHERE key_hash = $1`, [key.hash]);
    return (result.rowCount ?? 0) > 0;
  }

  async clear(namespace?: string): Promise<number> {
    await this.setup.ready();
    const result =
      namespace === undefined
        ? await this.pool.query(`DELETE FROM ${this.t}cache`)
        : await this.pool.query(`DELETE FROM ${this.t}cache WHERE namespace = $1`, [toColumn(namespace)]);
    return result.rowCount ?? 0;
  }

  async invalidateTag(tag: string, namespace?: string): Promise<number> {
    await this.setup.ready();
    const result = await this.pool.query(
      `DELETE FROM ${this.t}cache c USING ${this.t}tags g
        WHERE g.key_hash = c.key_hash AND g.tag = $1 AND ($2::text IS NULL OR c.namespace = $2)`,
      [toColumn(tag), namespace === undefined ? null : toColumn(namespace)],
    );
    return result.rowCount ?? 0;
  }

  /** Deletes expired rows in small batches, so a large purge never holds long locks. */
  async purgeExpired(): Promise<number> {
    await this.setup.ready();
    let total = 0;
    for (;;) {
      const result = await this.pool.query(
        `DELETE FROM ${this.t}cache WHERE key_hash IN (
           SELECT key_hash FROM ${this.t}cache WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT ${PURGE_BATCH})`,
        [this.options.clock.now()],
      );
      const n = result.rowCount ?? 0;
      total += n;
      if (n < PURGE_BATCH) return total;
    }
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    await this.setup.ready();
    let after = '';
    for (;;) {
      const { rows } = await this.pool.query<{
        key_hash: string;
        namespace: string;
        response: string;
        access_count: string;
      }>(
        `SELECT key_hash, namespace, response, access_count FROM ${this.t}cache
          WHERE key_hash > $1 AND ($2::text IS NULL OR namespace = $2) AND (expires_at IS NULL OR expires_at > $3)
          ORDER BY key_hash COLLATE "C" LIMIT ${PAGE}`,
        [after, namespace === undefined ? null : toColumn(namespace), this.options.clock.now()],
      );
      for (const r of rows) {
        yield {
          namespace: fromColumn(r.namespace),
          hash: r.key_hash,
          payload: r.response,
          accessCount: Number(r.access_count),
        };
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.key_hash;
    }
  }

  /** Full-text search over cached prompts (`strata search`), best match first. */
  async search(text: string, limit = 20): Promise<SearchResult[]> {
    await this.setup.ready();
    const { rows } = await this.pool.query<{
      key_hash: string;
      namespace: string;
      llm_string: string;
      prompt: string | null;
      created_at: string;
      access_count: string;
    }>(
      `SELECT key_hash, namespace, llm_string, prompt, created_at, access_count FROM ${this.t}cache
        WHERE prompt_tsv @@ plainto_tsquery('simple', $1)
        ORDER BY ts_rank(prompt_tsv, plainto_tsquery('simple', $1)) DESC
        LIMIT ${Math.max(1, Math.min(1000, Math.floor(limit)))}`,
      [withoutNul(text)],
    );
    return rows.map((r) => ({
      hash: r.key_hash,
      namespace: fromColumn(r.namespace),
      llmString: fromColumn(r.llm_string),
      prompt: r.prompt ?? '',
      createdAt: Number(r.created_at),
      accessCount: Number(r.access_count),
    }));
  }

  async stats(): Promise<TierStats> {
    await this.setup.ready();
    const { rows } = await this.pool.query<{ namespace: string; n: string; bytes: string }>(
      `SELECT namespace, count(*) AS n, coalesce(sum(size), 0) AS bytes FROM ${this.t}cache GROUP BY namespace`,
    );
    const namespaces: Record<string, number> = {};
    let entries = 0;
    let bytes = 0;
    for (const r of rows) {
      namespaces[fromColumn(r.namespace)] = Number(r.n);
      entries += Number(r.n);
      bytes += Number(r.bytes);
    }
    return { entries, bytes, namespaces };
  }

  /** Daily statistics as persisted (most recent first). */
  async daily(days: number): Promise<DailyStats[]> {
    await this.setup.ready();
    await this.flush();
    const { rows } = await this.pool.query<{
      day: string;
      tier: string;
      hits: string;
      misses: string;
      total: string;
      latency_ms: number;
    }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, tier, hits, misses, total, latency_ms FROM ${this.t}stats
        WHERE day >= (now() AT TIME ZONE 'UTC')::date - $1::int ORDER BY day DESC, tier`,
      [days - 1],
    );
    return rows.map((r) => ({
      day: r.day,
      tier: r.tier,
      hits: Number(r.hits),
      misses: Number(r.misses),
      avgLatencyMs: Number(r.total) === 0 ? 0 : r.latency_ms / Number(r.total),
    }));
  }

  /** Up when the tables are usable: a schema that cannot be created or read is the reason it is down. */
  async health(): Promise<TierHealth> {
    if (this.closed) return { status: 'down', reason: 'closed' };
    await this.setup.ready();
    await this.pool.query(`SELECT 1 FROM ${this.t}cache LIMIT 0`);
    return { status: 'up' };
  }

  protected async disconnect(): Promise<void> {
    this.readers.close();
    await this.pool.end();
  }

  // -------------------------------------------------------------------------------------------

  protected async prepare(): Promise<void> {
    const t = this.t;
    const steps = migrations(t);
    await this.transaction(async (c) => {
      // One migrator at a time across processes: the lock is released at commit.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${t}strata_migrate`]);
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${t}migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)`,
      );
      const { rows } = await c.query<{ v: number }>(
        `SELECT coalesce(max(version), 0)::int AS v FROM ${t}migrations`,
      );
      const current = rows[0]?.v ?? 0;
      await migrate({ where: `${t}migrations`, steps }, current, async (step, version) => {
        for (const statement of step) await c.query(statement);
        await c.query(`INSERT INTO ${t}migrations (version, applied_at) VALUES ($1, $2)`, [
          version,
          this.options.clock.now(),
        ]);
      });
      await c.query(fleetTable(t));
    });
  }

  private transaction(work: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    return transaction(this.pool, work);
  }

  /** Writes batched hit counts and the day's statistics. */
  protected flush(): Promise<void> {
    return this.flushBatch(({ counts: access, totals: stats }) =>
      this.transaction(async (c) => {
        if (access.length > 0) {
          // One statement for every key, not one per key: the flush must not compete with lookups.
          await c.query(
            `UPDATE ${this.t}cache c SET access_count = c.access_count + v.n
               FROM unnest($1::text[], $2::bigint[]) AS v(h, n) WHERE c.key_hash = v.h`,
            [access.map(([hash]) => hash), access.map(([, n]) => n)],
          );
        }
        if (stats.hits + stats.misses > 0) {
          await c.query(
            `INSERT INTO ${this.t}stats (day, tier, hits, misses, total, latency_ms)
             VALUES ((now() AT TIME ZONE 'UTC')::date, $1, $2, $3, $4, $5)
             ON CONFLICT (day, tier) DO UPDATE SET hits = ${this.t}stats.hits + excluded.hits,
               misses = ${this.t}stats.misses + excluded.misses, total = ${this.t}stats.total + excluded.total,
               latency_ms = ${this.t}stats.latency_ms + excluded.latency_ms`,
            [this.name, stats.hits, stats.misses, stats.hits + stats.misses, stats.latencyMs],
          );
        }
      }),
    );
  }
}
