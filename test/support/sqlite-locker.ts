/**
 * Child process that holds SQLite's write lock: BEGIN IMMEDIATE on the file, prints "locked",
 * waits, then commits and exits. Another process (not a second connection in the test's own
 * thread), so the test's event loop keeps running while the lock is held.
 */
import Database from 'better-sqlite3';

const [path, holdMs] = process.argv.slice(2);
const db = new Database(path!, { timeout: 10_000 });
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');
setTimeout(() => {
  db.exec('COMMIT');
  db.close();
  process.stdout.write('released\n');
}, Number(holdMs));
