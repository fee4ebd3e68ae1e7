/** The CLI as tests drive it: in-process, with its output collected, over a config in a temp folder. */
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach } from 'vitest';
import type { Io } from '../../src/cli/context.js';
import { main } from '../../src/cli/main.js';

export async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l), interactive: false };
  const code = await main(argv, io);
  return { code, out, err };
}

export interface CliWorkspace {
  dir: string;
  /** Path of its strata.config.json (namespace `app`). */
  config: string;
}

/**
 * Temp folders with a strata.config.json, removed after each test of the calling file. Call it
 * once at the top of a test file.
 */
export function cliWorkspaces(prefix: string): {
  workspace(tiers: unknown[], config?: Record<string, unknown>): CliWorkspace;
  tempDir(): string;
} {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  return {
    tempDir,
    workspace(tiers, config = {}) {
      const dir = tempDir();
      const path = join(dir, 'strata.config.json');
      writeFileSync(path, JSON.stringify({ namespace: 'app', tiers, ...config }));
      return { dir, config: path };
    },
  };
}

/**
 * Another connection (in this process; SQLite keeps the locks of a process's connections apart)
 * holding the file's write lock with BEGIN EXCLUSIVE, as another process would. Returns its
 * release. Calls that need the lock wait their busy timeout and fail; in WAL mode reads go on.
 */
export function holdExclusiveLock(path: string): () => void {
  const db = new Database(path);
  db.exec('BEGIN EXCLUSIVE');
  let released = false;
  return () => {
    if (released) return;
    released = true;
    db.exec('ROLLBACK');
    db.close();
  };
}

/** Every file in `dir` with the SHA-256 of its bytes and its mtime: equal before and after means untouched. */
export function filesState(dir: string): Record<string, { sha256: string; mtimeMs: number }> {
  const state: Record<string, { sha256: string; mtimeMs: number }> = {};
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    state[name] = {
      sha256: createHash('sha256').update(readFileSync(path)).digest('hex'),
      mtimeMs: statSync(path).mtimeMs,
    };
  }
  return state;
}

/** Whether a string holds a character the CLI must never print raw (C0/C1 controls but \n, DEL, format characters). */
export function hasUnsafeCharacters(text: string): boolean {
  return /[\p{Cf}\p{Zl}\p{Zp}\p{Cs}]|[^\P{Cc}\n]/u.test(text);
}

/**
 * Overwrites `count` leaf pages of cache_entries, spread over a closed SQLite file, with garbage
 * (as a failing disk would): the rows they hold can no longer be read, every other row can.
 * Returns how many rows the damaged pages held.
 */
export function damageLeafPages(path: string, count = 2): number {
  const db = new Database(path); // read-write: closing it removes the -wal and -shm it opened
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const leaves = db
    .prepare(
      "SELECT pageno, ncell FROM dbstat WHERE name = 'cache_entries' AND pagetype = 'leaf' ORDER BY pageno",
    )
    .all() as Array<{ pageno: number; ncell: number }>;
  db.close();
  if (leaves.length < count + 2) throw new Error(`only ${leaves.length} leaf pages: seed more rows`);
  const chosen = Array.from(
    { length: count },
    (_, k) => leaves[Math.floor((leaves.length * (k + 1)) / (count + 1))]!,
  );
  const fd = openSync(path, 'r+');
  try {
    for (const page of chosen) {
      writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (page.pageno - 1) * pageSize);
    }
  } finally {
    closeSync(fd);
  }
  return chosen.reduce((rows, page) => rows + page.ncell, 0);
}

/** How many entries a SQLite tier's file holds, read through a connection of its own. */
export function entryRows(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM cache_entries').pluck().get() as number;
  } finally {
    db.close();
  }
}
