/** Listing a damaged SQLite file: every entry that can still be read, then what could not be. */
import type Database from 'better-sqlite3';
import type { ListedEntry } from '../../core/tier.js';
import { SqliteOpenError } from '../../errors.js';

export interface PageRow {
  key_hash: string;
  namespace: string;
  response: string;
  access_count: number;
}

type RecoveredRow = PageRow & { expires_at: number | null };

/**
 * The entries after `after` that a damaged file still yields, row by row. Their keys are
 * gathered from every structure that names them, each read until it fails: the table forwards
 * and backwards (around a damaged page), and the namespace, model and recency indexes. Each
 * row is then read by its key; one that fails is counted. Ends by throwing what could not be
 * read, so a listing of a damaged file never passes for a complete one.
 */
export function* readable(
  db: Database.Database,
  path: string,
  now: number,
  namespace: string | undefined,
  after: string,
  cause: Error,
): Generator<ListedEntry> {
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
      for (const key of db.prepare(sql).pluck().iterate(after) as Iterable<string>) keys.add(key);
      complete = true;
    } catch {
      // read up to the damage; the other structures may name the rest
    }
  }
  const columns = 'key_hash, namespace, response, access_count, expires_at';
  const byKey = db.prepare(`SELECT ${columns} FROM cache_entries WHERE key_hash = ?`);
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
          ? db.prepare(`SELECT ${columns} FROM cache_entries WHERE key_hash >= ? ORDER BY key_hash DESC`)
          : db.prepare(
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
  throw new SqliteOpenError(`${path}: malformed: ${lost}; every other entry was listed (${cause.message})`, {
    cause,
  });
}
