import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { damageLeafPages, filesState, holdExclusiveLock } from '../../../test/support/cli.js';
import { makeImmutable } from '../../../test/support/immutable.js';
import { systemClock } from '../../core/clock.js';
import type { StoredEntry } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import type { ListedEntry } from '../../core/tier.js';
import { createCache } from '../../langchain/create.js';
import { describeSqliteFailure, SqliteTier } from './index.js';

const dirs: string[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-honest-'));
  dirs.push(dir);
  return dir;
}

function tier(path: string, extra: Partial<ConstructorParameters<typeof SqliteTier>[0]> = {}): SqliteTier {
  return new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 100, clock: systemClock, ...extra });
}

function key(i: number | string): CacheKey {
  return { namespace: 'n', llmString: 'l', prompt: `p${i}`, hash: `k${String(i).padStart(4, '0')}` };
}

function stored(text: string, tags: string[] = []): StoredEntry {
  return { payload: text, size: text.length, createdAt: Date.now(), expiresAt: null, tags };
}

/** A closed Strata file (WAL mode, its WAL folded in) with `n` rows of about 200 bytes. */
function strataFile(path: string, n: number): void {
  const t = tier(path);
  for (let i = 0; i < n; i++) t.set(key(i), stored(`answer ${i} ${'x'.repeat(150)}`));
  t.close();
}

async function list(t: SqliteTier): Promise<{ listed: ListedEntry[]; error: Error | undefined }> {
  const listed: ListedEntry[] = [];
  try {
    for await (const e of t.entries()) listed.push(e);
  } catch (error) {
    return { listed, error: error as Error };
  }
  return { listed, error: undefined };
}

describe('sqlite tier on a damaged file', () => {
  it('lists every readable entry, then fails saying how many could not be read', async () => {
    const path = join(tempDir(), 'cache.db');
    strataFile(path, 300);
    const lost = damageLeafPages(path, 2);
    expect(lost).toBeGreaterThan(0);
    const t = tier(path, { readonly: true });
    const { listed, error } = await list(t);
    t.close();
    expect(listed).toHaveLength(300 - lost);
    expect(new Set(listed.map((e) => e.hash)).size).toBe(300 - lost);
    expect(error?.message).toMatch(new RegExp(`cache\\.db: malformed: ${lost} entries could not be read`));
  });

  it('writes no bookkeeping to a file found damaged: its bytes stay as they were', () => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    strataFile(path, 300);
    damageLeafPages(path, 2);
    const before = filesState(dir)['cache.db'];
    const t = tier(path);
    // Find the rows on the damaged pages: reading one is how the tier learns of the damage.
    let damagedReads = 0;
    let hits = 0;
    for (let i = 0; i < 300; i++) {
      try {
        if (t.get(key(i)) !== undefined) hits++;
      } catch (error) {
        expect((error as { code?: string }).code).toMatch(/^SQLITE_CORRUPT/);
        damagedReads++;
      }
    }
    expect(damagedReads).toBeGreaterThan(0);
    expect(hits).toBe(300 - damagedReads);
    expect(t.health()).toEqual({
      status: 'down',
      reason: expect.stringMatching(/cache\.db: malformed .*no bookkeeping is written to it any more/),
    });
    t.close(); // would write the batched hit counts of every row read
    expect(filesState(dir)['cache.db']).toEqual(before);
  });

  it('an intact file does get its bookkeeping (the check above is not vacuous)', () => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    strataFile(path, 20);
    const t = tier(path);
    for (let i = 0; i < 20; i++) t.get(key(i));
    t.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT sum(access_count) FROM cache_entries').pluck().get()).toBe(20);
    raw.close();
  });
});

describe('sqlite tier flush(): what the write queue accepted is confirmed or reported lost', () => {
  it('a write queued behind another connection’s lock is reported lost, and later writes fail instead of queueing', () => {
    const path = join(tempDir(), 'cache.db');
    strataFile(path, 0);
    const t = tier(path);
    const release = holdExclusiveLock(path);
    try {
      expect(t.set(key(1), stored('queued'))).toBe(true); // accepted into the queue
      expect(() => t.flush()).toThrow(
        /cache\.db: locked by another process for more than 100 ms; 1 accepted writes were not written/,
      );
      expect(() => t.set(key(2), stored('refused'))).toThrow(/cache\.db: locked by another process/);
      expect(t.get(key(1))).toBeUndefined(); // the lost write is not served from the queue either
    } finally {
      release();
    }
    expect(t.set(key(3), stored('lands'))).toBe(true);
    t.flush();
    t.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT key_hash FROM cache_entries').pluck().all()).toEqual([key(3).hash]);
    raw.close();
  });

  it('clear, invalidateTag, delete and purge under the lock fail naming the lock', () => {
    const path = join(tempDir(), 'cache.db');
    strataFile(path, 3);
    const t = tier(path);
    const release = holdExclusiveLock(path);
    try {
      for (const op of [
        () => t.clear(),
        () => t.clear('n'),
        () => t.invalidateTag('x'),
        () => t.delete(key(1)),
        () => t.purgeExpired(),
      ]) {
        expect(op).toThrow(
          /cache\.db: locked by another process for more than 100 ms \(database is locked\)/,
        );
      }
    } finally {
      release();
      t.close();
    }
  });
});

describe('sqlite tier close(): writes still queued at its deadline are reported, not dropped silently', () => {
  it('a write waiting for another connection’s lock past busyTimeoutMs makes close() fail saying so', async () => {
    const path = join(tempDir(), 'cache.db');
    strataFile(path, 0);
    const t = tier(path);
    const release = holdExclusiveLock(path);
    try {
      expect(t.set(key(1), stored('queued'))).toBe(true); // accepted into the queue
      await expect(t.close()).rejects.toThrow(
        /cache\.db: 1 accepted writes were not written before close: 1 were still waiting for another process's lock after 100 ms \(busyTimeoutMs\)/,
      );
    } finally {
      release();
    }
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT count(*) FROM cache_entries').pluck().get()).toBe(0);
    raw.close();
    expect(t.close()).toBeUndefined(); // closed once: a second close() neither throws nor repeats the report
  });

  it('the same write lands and close() succeeds once the lock is released within the deadline', async () => {
    const path = join(tempDir(), 'cache.db');
    strataFile(path, 0);
    // Its first wait is the call timeout (100 ms, blocking, as every call's); then it retries
    // without blocking, so the holder (here a connection of this process) can let go meanwhile.
    const t = tier(path, { busyTimeoutMs: 5_000, timeoutMs: 100 });
    const release = holdExclusiveLock(path);
    expect(t.set(key(1), stored('queued'))).toBe(true);
    const closing = t.close();
    setTimeout(release, 50);
    await expect(closing).resolves.toBeUndefined();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT key_hash FROM cache_entries').pluck().all()).toEqual([key(1).hash]);
    raw.close();
  });

  it.each([
    ['a deadline under the call timeout', { busyTimeoutMs: 100 }],
    // The cache waits for the tier's own close deadline, not its shorter call timeout, so what is
    // said is which writes were lost, not "close timed out" (and the file is closed).
    ['a deadline over the call timeout', { busyTimeoutMs: 1_200, timeoutMs: 200 }],
  ])('through the cache, the loss is logged by close() (%s)', async (_, limits) => {
    const path = join(tempDir(), 'cache.db');
    strataFile(path, 0);
    const warnings: string[] = [];
    const cache = await createCache(
      { tiers: [{ type: 'sqlite', path, ...limits }] },
      { logger: { warn: (message: string) => warnings.push(message) } },
    );
    const release = holdExclusiveLock(path);
    try {
      await cache.update('prompt', 'llm', [{ text: 'answer' }]);
      await cache.close();
    } finally {
      release();
    }
    expect(warnings.filter((w) => w.includes('close failed'))).toEqual([
      expect.stringMatching(
        /^\[strata\] tier sqlite: close failed \(.*cache\.db: 1 accepted writes were not written before close: .*\)$/,
      ),
    ]);
  });
});

describe('sqlite failures as messages', () => {
  it('SQLITE_IOERR_SHMSIZE (a full disk when SQLite grows the -shm of a WAL file) names the -shm file', () => {
    expect(
      describeSqliteFailure('/data/cache.db', { code: 'SQLITE_IOERR_SHMSIZE', message: 'disk I/O error' }),
    ).toBe(
      '/data/cache.db: no space left on device for /data/cache.db-shm (SQLite could not grow the shared-memory file it keeps beside a WAL database; SQLITE_IOERR_SHMSIZE: disk I/O error)',
    );
    expect(
      describeSqliteFailure('/data/cache.db', { code: 'SQLITE_FULL', message: 'database or disk is full' }),
    ).toMatch(/^\/data\/cache\.db: disk full: no space left on device/);
    expect(
      describeSqliteFailure('/data/cache.db', { code: 'SQLITE_BUSY', message: 'database is locked' }),
    ).toBe('/data/cache.db: locked by another process (database is locked)');
  });
});

describe('sqlite tier opened read-only creates nothing', () => {
  it('a WAL file no other connection has open: read from a copy, no -wal or -shm appears, bytes and mtime unchanged', async () => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    strataFile(path, 30);
    const before = filesState(dir);
    expect(Object.keys(before)).toEqual(['cache.db']);
    const t = tier(path, { readonly: true, integrityCheck: true });
    expect(t.stats().entries).toBe(30);
    expect(t.get(key(7))).toMatch(/^answer 7 /);
    expect((await list(t)).listed).toHaveLength(30);
    expect(t.health()).toEqual({ status: 'up' });
    t.close();
    expect(filesState(dir)).toEqual(before);
  });

  it('a file in a read-only directory is read (SQLite alone would fail: it must create -shm)', async () => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    strataFile(path, 30);
    const before = filesState(dir);
    makeImmutable(dir, cleanups);
    const t = tier(path, { readonly: true });
    expect(t.stats().entries).toBe(30);
    expect((await list(t)).listed).toHaveLength(30);
    t.close();
    expect(filesState(dir)).toEqual(before);
  });

  it('a file another connection holds locked is read in place, through its -wal and -shm, creating nothing', async () => {
    const dir = tempDir();
    const path = join(dir, 'cache.db');
    strataFile(path, 30);
    const release = holdExclusiveLock(path);
    try {
      const names = readdirSync(dir).sort();
      expect(names).toEqual(['cache.db', 'cache.db-shm', 'cache.db-wal']);
      const db = filesState(dir)['cache.db'];
      const t = tier(path, { readonly: true });
      expect(t.stats().entries).toBe(30);
      expect((await list(t)).listed).toHaveLength(30);
      t.close();
      expect(readdirSync(dir).sort()).toEqual(names);
      expect(filesState(dir)['cache.db']).toEqual(db);
    } finally {
      release();
    }
  });
});
