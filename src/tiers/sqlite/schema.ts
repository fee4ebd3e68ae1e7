/**
 * The SQLite tier's schema: its migrations, the columns each table must have, and the check and
 * migration at open. A file written by a newer version or holding someone else's tables is
 * refused and left untouched.
 */
import type Database from 'better-sqlite3';
import { SqliteOpenError } from '../../errors.js';
import { migrateSync, refuseNewer, type SchemaSteps } from '../kit/migrate.js';

/** Each migration moves the schema from version (index) to version (index + 1). */
export const MIGRATIONS: readonly string[] = [
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

/** The migrations, refusing a newer file with the reason health() shows. */
function stepsOf(path: string): SchemaSteps<string> {
  return {
    where: path,
    steps: MIGRATIONS,
    newer: (found, known) =>
      new SqliteOpenError(
        `${path}: written by a newer version (user_version ${found} > ${known}); left untouched`,
      ),
  };
}

/** Checks the file's version and tables, switches it to WAL and migrates it (not when read-only). */
export function checkAndMigrate(db: Database.Database, path: string, readonly: boolean): void {
  const schema = stepsOf(path);
  // One read transaction, so the version and the tables come from one state of the file: read
  // apart, a migration committed by another process in between looks like a foreign table.
  const version = db.transaction(() => {
    const found = db.pragma('user_version', { simple: true }) as number;
    refuseNewer(schema, found);
    checkTables(db, path, found);
    return found;
  })();
  if (readonly) {
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
      refuseNewer(schema, current);
      checkTables(db, path, current);
      migrateSync(schema, current, (step) => db.exec(step));
      db.pragma(`user_version = ${MIGRATIONS.length}`);
    }).immediate();
  }
}

/** Each of our tables that exists must have our columns, and exist exactly when the version says so. */
export function checkTables(db: Database.Database, path: string, version: number): void {
  for (const table of TABLES) {
    const columns = (db.pragma(`table_info(${table.name})`) as Array<{ name: string }>).map((c) => c.name);
    const expected = version >= table.since;
    if (
      columns.length > 0 &&
      (columns.length !== table.columns.length || !table.columns.every((c) => columns.includes(c)))
    ) {
      throw new SqliteOpenError(
        `${path}: table ${table.name} is not a Strata table (columns: ${columns.join(', ')}); left untouched`,
      );
    }
    if (columns.length > 0 && !expected) {
      throw new SqliteOpenError(
        `${path}: table ${table.name} exists but user_version is ${version}: not a Strata table; left untouched`,
      );
    }
    if (columns.length === 0 && expected) {
      throw new SqliteOpenError(
        `${path}: user_version ${version} but no table ${table.name}: not a Strata cache file`,
      );
    }
  }
}
