/** The SQLite tier's prepared statements, prepared once at open. */
import type Database from 'better-sqlite3';

/** Rows per page of a listing (entries()). */
export const PAGE = 500;

/** One prepared statement per job, by name. */
export type Statements = Record<
  | 'get'
  | 'upsert'
  | 'replacePayload'
  | 'clearTags'
  | 'addTag'
  | 'delete'
  | 'clearAll'
  | 'clearNamespace'
  | 'invalidateTag'
  | 'purge'
  | 'touch'
  | 'totals'
  | 'perNamespace'
  | 'evictOldest'
  | 'addStats'
  | 'daily'
  | 'page',
  Database.Statement
>;

export function prepareStatements(db: Database.Database): Statements {
  return {
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
    replacePayload: db.prepare(
      `UPDATE cache_entries SET response = @payload, size = @size, prompt = NULL
        WHERE key_hash = @hash AND namespace = @namespace AND response = @expected`,
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
}
