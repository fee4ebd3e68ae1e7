/**
 * MySQL tier (tested on MariaDB): entries, tags and daily statistics in three tables.
 *
 *   <prefix>cache   one row per entry; the primary key is the full key hash over (namespace,
 *                   sanitized llm string, prompt), never the prompt hash alone (which would mix
 *                   models and tenants); upserts bump cache_version
 *   <prefix>tags    (key_hash, tag) with ON DELETE CASCADE
 *   <prefix>stats   hits, misses and latency per day and tier, written in batches
 *   <prefix>fleet_counters  every process's counters for `strata serve` (core/fleet.ts), one row
 *                   per process replaced at each report
 * plus <prefix>migrations, the applied schema versions.
 *
 * Every statement is a prepared statement with bound parameters. Hit bookkeeping and daily
 * statistics are flushed once a second in one transaction, so a lookup is one indexed read.
 * The pool never queues without bound: a lost server or an exhausted pool fails the call, and
 * the manager's timeout turns a slow one into a miss.
 */
import { createPool, type Pool, type PoolConnection, type RowDataPacket } from 'mysql2/promise';
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
import { ServerTier } from '../kit/server-tier.js';
import { type MysqlTierConfig, TABLE_PREFIX, TABLE_PREFIX_RULE } from './config.js';

/** The fields of config.ts, with the purge period in ms. */
export type MysqlTierOptions = Pick<
  MysqlTierConfig,
  'url' | 'host' | 'user' | 'password' | 'database' | 'poolSize' | 'tablePrefix' | 'connectTimeoutMs'
> &
  Partial<Pick<MysqlTierConfig, 'port'>> & {
    name?: string;
    purgeIntervalMs: number;
    clock: Clock;
  };

const PURGE_BATCH = 500;

/**
 * Created beside the versioned tables, not as a schema version: an older Strata sharing the
 * database (a fleet upgraded one process at a time) would refuse a newer version and lose the
 * tier, while an extra table is nothing to it.
 */
const fleetTable = (t: string) =>
  `CREATE TABLE IF NOT EXISTS ${t}fleet_counters (
     process     VARCHAR(300) NOT NULL PRIMARY KEY,
     reported_at BIGINT NOT NULL,
     snapshot    LONGTEXT NOT NULL
   ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;

function migrations(t: string): string[][] {
  return [
    [
      `CREATE TABLE ${t}cache (
         key_hash      CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
         namespace     VARCHAR(256) NOT NULL,
         prompt        LONGTEXT NULL,
         llm_string    TEXT NOT NULL,
         response      LONGTEXT NOT NULL,
         metadata      JSON NULL,
         size          INT UNSIGNED NOT NULL,
         created_at    BIGINT NOT NULL,
         updated_at    BIGINT NOT NULL,
         expires_at    BIGINT NULL,
         access_count  BIGINT UNSIGNED NOT NULL DEFAULT 0,
         cache_version INT UNSIGNED NOT NULL DEFAULT 1,
         INDEX ${t}cache_expires (expires_at),
         INDEX ${t}cache_namespace (namespace),
         INDEX ${t}cache_llm (llm_string(191)),
         FULLTEXT INDEX ${t}cache_prompt (prompt)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      `CREATE TABLE ${t}tags (
         key_hash CHAR(64) CHARACTER SET ascii NOT NULL,
         tag      VARCHAR(255) NOT NULL,
         PRIMARY KEY (key_hash, tag),
         INDEX ${t}tags_tag (tag),
         FOREIGN KEY (key_hash) REFERENCES ${t}cache (key_hash) ON DELETE CASCADE
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
      `CREATE TABLE ${t}stats (
         day        DATE NOT NULL,
         tier       VARCHAR(64) NOT NULL,
         hits       BIGINT UNSIGNED NOT NULL DEFAULT 0,
         misses     BIGINT UNSIGNED NOT NULL DEFAULT 0,
         total      BIGINT UNSIGNED NOT NULL DEFAULT 0,
         latency_ms DOUBLE NOT NULL DEFAULT 0,
         PRIMARY KEY (day, tier)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    ],
  ];
}

export class MysqlTier extends ServerTier implements Tier {
  readonly name: string;
  readonly type = 'mysql';
  private readonly pool: Pool;
  private readonly t: string;
  private readonly selectHit: string;

  /** Processes sharing this database report their counters here (core/fleet.ts). */
  readonly counters: CounterStore = {
    publish: async (process, snapshot, at) => {
      await this.setup.ready();
      await this.pool.execute(
        `INSERT INTO ${this.t}fleet_counters (process, reported_at, snapshot) VALUES (?, ?, ?)
         ON DUPLICATE KEY UPDATE reported_at = VALUES(reported_at), snapshot = VALUES(snapshot)`,
        [process, at, snapshot],
      );
      await this.pool.execute(`DELETE FROM ${this.t}fleet_counters WHERE reported_at < ?`, [
        at - FLEET_RETENTION_MS,
      ]);
    },
    read: async (since) => {
      await this.setup.ready();
      // A row too long to be a snapshot is not fetched: the reader skips it (and counts it).
      const [rows] = await this.pool.execute<RowDataPacket[]>(
        `SELECT CASE WHEN CHAR_LENGTH(snapshot) > ? THEN '' ELSE snapshot END AS snapshot
           FROM ${this.t}fleet_counters WHERE reported_at >= ?`,
        [FLEET_ROW_MAX_CHARS, since],
      );
      return rows.map((r) => String(r.snapshot));
    },
  };

  constructor(private readonly options: MysqlTierOptions) {
    super();
    this.name = options.name ?? 'mysql';
    if (!TABLE_PREFIX.test(options.tablePrefix))
      throw new TierConfigError(`tablePrefix: ${TABLE_PREFIX_RULE}`);
    this.t = options.tablePrefix;
    this.selectHit = `SELECT response, expires_at FROM ${this.t}cache WHERE key_hash = ?`;
    const connection = options.url
      ? { uri: options.url }
      : {
          host: options.host,
          port: options.port,
          user: options.user,
          password: options.password,
          database: options.database,
        };
    this.pool = createPool({
      ...connection,
      connectionLimit: options.poolSize,
      waitForConnections: true,
      queueLimit: options.poolSize * 100,
      connectTimeout: options.connectTimeoutMs,
      enableKeepAlive: true,
      charset: 'utf8mb4_bin',
      supportBigNumbers: true,
    });
    // A pool error event without a listener would crash the process; failures reach the manager per call.
    this.pool.on('connection', (c) => c.on('error', () => {}));
    this.startUpkeep(options.purgeIntervalMs);
  }

  get(key: CacheKey): Promise<string | undefined> {
    if (!this.setup.done) return this.setup.ready().then(() => this.get(key));
    const started = performance.now();
    // The hit path uses mysql2's callback API: its promise wrapper captures a stack trace per
    // call, which costs ~15% of a local primary-key read. Expiry is checked here rather than in
    // SQL: a bare primary-key lookup is the cheapest statement.
    return new Promise((resolve, reject) => {
      this.pool.pool.execute<RowDataPacket[]>(this.selectHit, [key.hash], (error, rows) => {
        if (error) return reject(error);
        const row = rows[0];
        const live = row && (row.expires_at === null || Number(row.expires_at) > this.options.clock.now());
        const response = live ? (row.response as string) : undefined;
        this.access.record(response === undefined ? undefined : key.hash, performance.now() - started);
        resolve(response);
      });
    });
  }

  async set(key: CacheKey, entry: StoredEntry): Promise<boolean> {
    await this.setup.ready();
    await this.transaction(async (c) => {
      const now = this.options.clock.now();
      await c.execute(
        `INSERT INTO ${this.t}cache (key_hash, namespace, prompt, llm_string, response, metadata, size, created_at, updated_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE namespace = VALUES(namespace), prompt = VALUES(prompt), llm_string = VALUES(llm_string),
           response = VALUES(response), metadata = VALUES(metadata), size = VALUES(size), created_at = VALUES(created_at),
           updated_at = VALUES(updated_at), expires_at = VALUES(expires_at), cache_version = cache_version + 1`,
        [
          key.hash,
          key.namespace,
          entry.prompt ?? null,
          key.llmString,
          entry.payload,
          entry.metadata === undefined ? null : JSON.stringify(entry.metadata),
          entry.size,
          entry.createdAt,
          now,
          entry.expiresAt,
        ],
      );
      await c.execute(`DELETE FROM ${this.t}tags WHERE key_hash = ?`, [key.hash]);
      for (const tag of new Set(entry.tags)) {
        await c.execute(`INSERT INTO ${this.t}tags (key_hash, tag) VALUES (?, ?)`, [key.hash, tag]);
      }
    });
    return true;
  }

  async replacePayload(entry: EntryRef, expected: string, payload: string): Promise<boolean> {
    await this.setup.ready();
    const [result] = await this.pool.execute(
      `UPDATE ${this.t}cache SET response = ?, size = ?, prompt = NULL, cache_version = cache_version + 1
        WHERE key_hash = ? AND namespace = ? AND response = ?`,
      [payload, Buffer.byteLength(payload, 'utf8'), entry.hash, entry.namespace, expected],
    );
    return (result as { affectedRows: number }).affectedRows > 0;
  }

  async delete(key: CacheKey): Promise<boolean> {
    await this.setup.ready();
    this.access.forget(key.hash);
    const [result] = await this.pool.execute(`DELETE FROM ${this.t}cache WHERE key_hash = ?`, [key.hash]);
    return (result as { affectedRows: number }).affectedRows > 0;
  }

  async clear(namespace?: string): Promise<number> {
    await this.setup.ready();
    const [result] =
      namespace === undefined
        ? await this.pool.execute(`DELETE FROM ${this.t}cache`)
        : await this.pool.execute(`DELETE FROM ${this.t}cache WHERE namespace = ?`, [namespace]);
    return (result as { affectedRows: number }).affectedRows;
  }

  async invalidateTag(tag: string, namespace?: string): Promise<number> {
    await this.setup.ready();
    const [result] = await this.pool.execute(
      `DELETE c FROM ${this.t}cache c JOIN ${this.t}tags g ON g.key_hash = c.key_hash
        WHERE g.tag = ? AND (? IS NULL OR c.namespace = ?)`,
      [tag, namespace ?? null, namespace ?? null],
    );
    return (result as { affectedRows: number }).affectedRows;
  }

  /** Deletes expired rows in small batches, so a large purge never holds long locks. */
  async purgeExpired(): Promise<number> {
    await this.setup.ready();
    let total = 0;
    for (;;) {
      const [result] = await this.pool.execute(
        `DELETE FROM ${this.t}cache WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ${PURGE_BATCH}`,
        [this.options.clock.now()],
      );
      const n = (result as { affectedRows: number }).affectedRows;
      total += n;
      if (n < PURGE_BATCH) return total;
    }
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    await this.setup.ready();
    let after = '';
    for (;;) {
      const [rows] = await this.pool.execute<RowDataPacket[]>(
        `SELECT key_hash, namespace, response, access_count FROM ${this.t}cache
          WHERE key_hash > ? AND (? IS NULL OR namespace = ?) AND (expires_at IS NULL OR expires_at > ?)
          ORDER BY key_hash LIMIT 500`,
        [after, namespace ?? null, namespace ?? null, this.options.clock.now()],
      );
      for (const r of rows) {
        yield {
          namespace: r.namespace,
          hash: r.key_hash,
          payload: r.response,
          accessCount: Number(r.access_count),
        };
      }
      if (rows.length < 500) return;
      after = rows[rows.length - 1]!.key_hash as string;
    }
  }

  /** Full-text search over cached prompts (`strata search`). */
  async search(text: string, limit = 20): Promise<SearchResult[]> {
    await this.setup.ready();
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT key_hash, namespace, llm_string, prompt, created_at, access_count FROM ${this.t}cache
        WHERE MATCH(prompt) AGAINST (? IN NATURAL LANGUAGE MODE) LIMIT ${Math.max(1, Math.min(1000, Math.floor(limit)))}`,
      [text],
    );
    return rows.map((r) => ({
      hash: r.key_hash,
      namespace: r.namespace,
      llmString: r.llm_string,
      prompt: r.prompt,
      createdAt: Number(r.created_at),
      accessCount: Number(r.access_count),
    }));
  }

  async stats(): Promise<TierStats> {
    await this.setup.ready();
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT namespace, COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM ${this.t}cache GROUP BY namespace`,
    );
    const namespaces: Record<string, number> = {};
    let entries = 0;
    let bytes = 0;
    for (const r of rows) {
      namespaces[r.namespace] = Number(r.n);
      entries += Number(r.n);
      bytes += Number(r.bytes);
    }
    return { entries, bytes, namespaces };
  }

  /** Daily statistics as persisted (most recent first). */
  async daily(days: number): Promise<DailyStats[]> {
    await this.setup.ready();
    await this.flush();
    const [rows] = await this.pool.execute<RowDataPacket[]>(
      `SELECT DATE_FORMAT(day, '%Y-%m-%d') AS day, tier, hits, misses, total, latency_ms FROM ${this.t}stats
        WHERE day >= CURDATE() - INTERVAL ? DAY ORDER BY day DESC, tier`,
      [days],
    );
    return rows.map((r) => ({
      day: r.day,
      tier: r.tier,
      hits: Number(r.hits),
      misses: Number(r.misses),
      avgLatencyMs: Number(r.total) === 0 ? 0 : Number(r.latency_ms) / Number(r.total),
    }));
  }

  async health(): Promise<TierHealth> {
    if (this.closed) return { status: 'down', reason: 'closed' };
    await this.pool.query('SELECT 1');
    return { status: 'up' };
  }

  protected async disconnect(): Promise<void> {
    await this.pool.end();
  }

  // -------------------------------------------------------------------------------------------

  protected async prepare(): Promise<void> {
    const t = this.t;
    await this.pool.query(
      `CREATE TABLE IF NOT EXISTS ${t}migrations (version INT PRIMARY KEY, applied_at BIGINT NOT NULL) ENGINE=InnoDB`,
    );
    const steps = migrations(t);
    await this.transaction(async (c) => {
      // One migrator at a time across processes: the lock is released at commit.
      await c.query(`SELECT GET_LOCK(?, 30)`, [`${t}strata_migrate`]);
      try {
        const [rows] = await c.query<RowDataPacket[]>(
          `SELECT COALESCE(MAX(version), 0) AS v FROM ${t}migrations`,
        );
        const current = Number(rows[0]?.v ?? 0);
        await migrate({ where: `${t}migrations`, steps }, current, async (step, version) => {
          for (const statement of step) await c.query(statement);
          await c.execute(`INSERT INTO ${t}migrations (version, applied_at) VALUES (?, ?)`, [
            version,
            this.options.clock.now(),
          ]);
        });
      } finally {
        await c.query(`SELECT RELEASE_LOCK(?)`, [`${t}strata_migrate`]);
      }
    });
    await this.pool.query(fleetTable(t));
  }

  private async transaction(work: (c: PoolConnection) => Promise<void>): Promise<void> {
    const c = await this.pool.getConnection();
    try {
      await c.beginTransaction();
      await work(c);
      await c.commit();
    } catch (error) {
      await c.rollback().catch(() => {});
      throw error;
    } finally {
      c.release();
    }
  }

  /** Writes batched hit counts and the day's statistics. */
  protected flush(): Promise<void> {
    return this.flushBatch(({ counts: access, totals: stats }) =>
      this.transaction(async (c) => {
        // One statement per 500 keys, not one per key: the flush must not compete with lookups.
        for (let i = 0; i < access.length; i += 500) {
          const chunk = access.slice(i, i + 500);
          await c.query(
            `UPDATE ${this.t}cache SET access_count = access_count + CASE key_hash ${chunk.map(() => 'WHEN ? THEN ?').join(' ')} END
            WHERE key_hash IN (${chunk.map(() => '?').join(',')})`,
            [...chunk.flat(), ...chunk.map(([hash]) => hash)],
          );
        }
        if (stats.hits + stats.misses > 0) {
          await c.execute(
            `INSERT INTO ${this.t}stats (day, tier, hits, misses, total, latency_ms) VALUES (CURDATE(), ?, ?, ?, ?, ?)
           ON DUPLICATE KEY UPDATE hits = hits + VALUES(hits), misses = misses + VALUES(misses),
             total = total + VALUES(total), latency_ms = latency_ms + VALUES(latency_ms)`,
            [this.name, stats.hits, stats.misses, stats.hits + stats.misses, stats.latencyMs],
          );
        }
      }),
    );
  }
}
