/**
 * Opening a SQLite cache file, and SQLite's failures as reasons a person can act on. A file this
 * version cannot use (damaged, not a database, a directory, read-only, written by a newer
 * version, someone else's tables) fails the open with the reason and is never altered.
 *
 * Opened read-only (the CLI's inspecting commands), nothing is created: a file no other
 * connection has open is read from a copy in memory (SQLite would otherwise create -wal and -shm
 * beside it, and cannot read a WAL file in a read-only directory at all); one in use is read in
 * place through the -wal and -shm its users keep.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteOpenError } from '../../errors.js';
import { isBusy, retryWhileBusy } from '../kit/sqlite-busy.js';
import { checkAndMigrate } from './schema.js';

/**
 * Read-only, a file no other connection has open is read from a copy in memory up to this size;
 * a larger one is read in place, where SQLite creates -wal and -shm beside it if it can.
 */
const SNAPSHOT_MAX_BYTES = 1024 * 1024 * 1024;

/** Opens the file and brings its schema up to date, or fails with the reason; never alters a file it cannot use. */
export function openDatabase(path: string, readonly: boolean, waitMs: number): Database.Database {
  const onDisk = path !== ':memory:' && !path.startsWith('file:');
  if (onDisk) {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat?.isDirectory()) throw new SqliteOpenError(`${path}: is a directory, not a database file`);
    if (readonly && !stat) {
      throw new SqliteOpenError(`${path}: missing (no such file; opened read-only, nothing was created)`);
    }
    if (!readonly) {
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
      readonly && onDisk
        ? openReadOnly(path, waitMs)
        : new Database(path, {
            timeout: waitMs,
            ...(readonly ? { readonly: true, fileMustExist: true } : {}),
          });
  } catch (error) {
    throw describeOpenError(path, error, waitMs);
  }
  try {
    // Again while a racing opener holds a lock.
    retryWhileBusy(waitMs, () => checkAndMigrate(db, path, readonly));
    return db;
  } catch (error) {
    db.close();
    throw describeOpenError(path, error, waitMs);
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
function openReadOnly(path: string, waitMs: number): Database.Database {
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
    return new Database(bytes, { readonly: true, timeout: waitMs });
  }
  try {
    return new Database(path, { readonly: true, fileMustExist: true, timeout: waitMs });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'SQLITE_CANTOPEN') throw error;
    throw new SqliteOpenError(
      `${path}: cannot be opened read-only in place (${(error as Error).message}): a WAL file in use ` +
        `or larger than 1 GiB is read through its ${path}-shm, which cannot be created here`,
    );
  }
}

/** A SQLite or file-system error at open, as a reason a person can act on. */
export function describeOpenError(path: string, error: unknown, waitMs: number): Error {
  if (error instanceof SqliteOpenError) return error;
  return new SqliteOpenError(describeSqliteFailure(path, error as Error, waitMs), { cause: error });
}

/** PRAGMA quick_check and the free space next to the file; undefined when both are fine. */
export function integrityProblem(db: Database.Database, path: string, waitMs: number): string | undefined {
  try {
    const rows = db.pragma('quick_check(5)', { simple: false }) as Array<{ quick_check: string }>;
    const problems = rows
      .flatMap((r) => r.quick_check.split('\n'))
      .filter((line) => line !== 'ok' && !line.startsWith('***'));
    if (problems.length > 0) return `${path}: malformed (quick_check: ${problems.join('; ')})`;
  } catch (error) {
    return describeOpenError(path, error, waitMs).message;
  }
  if (path !== ':memory:') {
    const fs = statfsSync(dirname(path));
    if (fs.bavail === 0) return `${path}: disk full (no free space left in ${dirname(path)})`;
  }
  return undefined;
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
export function faultOf(path: string, code: string, message: string): string | undefined {
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
export function isDamage(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || code === 'SQLITE_IOERR_SHORT_READ';
}
