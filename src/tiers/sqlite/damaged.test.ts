/**
 * A damaged, locked or foreign SQLite file is a down tier (with the reason), never a crash at
 * start: createCache resolves, the memory tier in front serves, and the SQLite tier comes back
 * on its own once the file is fixed or the lock released.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { holdWriteLock } from '../../../test/support/sqlite-lock.js';
import { systemClock } from '../../core/clock.js';
import type { StrataCache } from '../../langchain/cache.js';
import { createCache } from '../../langchain/create.js';
import { SqliteTier } from './index.js';

const dirs: string[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-damaged-'));
  dirs.push(dir);
  return join(dir, 'cache.db');
}

/** A real Strata file with `n` entries, closed. */
function strataFile(path: string, n = 200): void {
  const tier = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 1_000, clock: systemClock });
  tier.close();
  const raw = new Database(path);
  const insert = raw.prepare(
    `INSERT INTO cache_entries (key_hash, namespace, llm_string, response, size, created_at, updated_at, last_access_at)
     VALUES (?, 'n', 'l', ?, 10, 0, 0, 0)`,
  );
  raw.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(`k${i}`, 'x'.repeat(300));
  })();
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
}

/** Makes a file unwritable, for root too: root ignores mode bits, not the immutable attribute. */
function makeReadOnly(path: string): void {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', path]);
    cleanups.push(() => execFileSync('chattr', ['-i', path]));
  } else chmodSync(path, 0o444);
}

function digest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function open(path: string, extra: Record<string, unknown> = {}): Promise<StrataCache> {
  return createCache(
    {
      coalesceWaitMs: 0,
      tiers: [
        { type: 'memory' },
        {
          type: 'sqlite',
          path,
          busyTimeoutMs: 1_000,
          breaker: { cooldownMs: 50, maxCooldownMs: 200 },
          ...extra,
        },
      ],
    },
    { logger: { warn: () => {} } },
  );
}

async function sqliteHealth(cache: StrataCache): Promise<{ status: string; reason?: string }> {
  const health = await cache.health();
  return health.tiers.find((t) => t.type === 'sqlite')!;
}

/** createCache resolves, memory serves, SQLite is down with a reason, and no call throws. */
async function expectDownButServing(cache: StrataCache, reason: RegExp): Promise<void> {
  await cache.update('question', 'llm', [{ text: 'answer' }]);
  expect((await cache.lookup('question', 'llm'))?.[0]?.text).toBe('answer');
  expect(await cache.lookup('never asked', 'llm')).toBeNull();
  for (let i = 0; i < 20; i++) {
    await cache.update(`q${i}`, 'llm', [{ text: `a${i}` }]);
    await cache.lookup(`other ${i}`, 'llm');
  }
  const sqlite = await sqliteHealth(cache);
  expect(sqlite.status).toBe('down');
  expect(sqlite.reason).toMatch(reason);
  expect((await cache.health()).status).toBe('degraded');
}

const damages: Array<{ name: string; make: (path: string) => void; reason: RegExp }> = [
  {
    name: 'a truncated file',
    make: (path) => {
      strataFile(path);
      truncateSync(path, Math.floor(readFileSync(path).length / 2));
    },
    reason: /malformed/,
  },
  {
    name: 'a garbage file',
    make: (path) => writeFileSync(path, 'this is not a database file, it is text. '.repeat(300)),
    reason: /not a database/,
  },
  { name: 'a directory at the path', make: (path) => mkdirSync(path), reason: /directory/ },
  {
    name: 'a read-only file',
    make: (path) => {
      strataFile(path);
      makeReadOnly(path);
    },
    reason: /read-only/,
  },
  {
    name: 'a file written by a newer version',
    make: (path) => {
      strataFile(path);
      const raw = new Database(path);
      raw.pragma('user_version = 4');
      raw.close();
    },
    reason: /written by a newer version \(user_version 4 > 3\)/,
  },
  {
    name: 'a foreign cache_entries table',
    make: (path) => {
      const raw = new Database(path);
      raw.exec(
        "CREATE TABLE cache_entries (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO cache_entries VALUES (1, 'theirs')",
      );
      raw.close();
    },
    reason: /cache_entries.*not a Strata table/,
  },
];

describe('a SQLite file that cannot be used is a down tier, not a crash', () => {
  for (const damage of damages) {
    it(`${damage.name}: createCache resolves, memory serves, sqlite is down with the reason`, async () => {
      const path = tempPath();
      damage.make(path);
      const cache = await open(path);
      try {
        await expectDownButServing(cache, damage.reason);
      } finally {
        await cache.close();
      }
    });
  }

  it('a newer file is neither migrated nor written', async () => {
    const path = tempPath();
    damages.find((d) => d.name.includes('newer'))!.make(path);
    const before = digest(path);
    const cache = await open(path);
    await expectDownButServing(cache, /newer version/);
    await cache.close();
    expect(digest(path)).toBe(before);
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(4);
    raw.close();
  });

  it('a foreign cache_entries table is left untouched', async () => {
    const path = tempPath();
    damages.find((d) => d.name.includes('foreign'))!.make(path);
    const cache = await open(path);
    await expectDownButServing(cache, /not a Strata table/);
    await cache.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT * FROM cache_entries').all()).toEqual([{ id: 1, body: 'theirs' }]);
    expect(raw.pragma('user_version', { simple: true })).toBe(0);
    raw.close();
  });

  it('a damaged file that is replaced: the same cache serves from SQLite again, without a restart', async () => {
    const path = tempPath();
    writeFileSync(path, 'garbage '.repeat(1_000));
    const cache = await open(path);
    try {
      await expectDownButServing(cache, /not a database/);
      rmSync(path);
      strataFile(path, 0);
      await expect
        .poll(async () => (await sqliteHealth(cache)).status, { timeout: 10_000, interval: 50 })
        .toBe('up');
      await cache.update('after the fix', 'llm', [{ text: 'stored' }]);
      const raw = new Database(path, { readonly: true });
      expect(raw.prepare('SELECT count(*) FROM cache_entries').pluck().get()).toBe(1);
      raw.close();
    } finally {
      await cache.close();
    }
  });

  it('a read-only file recovers once it is writable again', async () => {
    const path = tempPath();
    damages.find((d) => d.name === 'a read-only file')!.make(path);
    const cache = await open(path);
    try {
      await expectDownButServing(cache, /read-only/);
      for (const c of cleanups.splice(0)) c();
      chmodSync(path, 0o644);
      await expect
        .poll(async () => (await sqliteHealth(cache)).status, { timeout: 10_000, interval: 50 })
        .toBe('up');
    } finally {
      await cache.close();
    }
  });

  it('a lock held (longer than busyTimeoutMs) while the schema must be created: down, then serves once released', async () => {
    const path = tempPath();
    const raw = new Database(path); // an empty file another process is about to set up
    raw.pragma('journal_mode = WAL');
    raw.close();
    const { released } = await holdWriteLock(path, 2_500);
    const cache = await open(path, { busyTimeoutMs: 300 });
    try {
      await expectDownButServing(cache, /locked/);
      await released;
      await expect
        .poll(async () => (await sqliteHealth(cache)).status, { timeout: 10_000, interval: 50 })
        .toBe('up');
      await cache.update('after the lock', 'llm', [{ text: 'stored' }]);
      const check = new Database(path, { readonly: true });
      expect(check.prepare('SELECT count(*) FROM cache_entries').pluck().get()).toBe(1);
      check.close();
    } finally {
      await cache.close();
    }
  });

  it('a current schema opens while another process holds the write lock (no migration lock on open)', async () => {
    const path = tempPath();
    strataFile(path, 3);
    const { released } = await holdWriteLock(path, 2_000);
    const cache = await open(path, { busyTimeoutMs: 300 });
    try {
      expect((await sqliteHealth(cache)).status).toBe('up');
      expect((await cache.stats()).tiers.find((t) => t.type === 'sqlite')?.store?.entries).toBe(3);
    } finally {
      await cache.close();
      await released;
    }
  });
});

describe('sqlite driver, read-only option', () => {
  it('opens an existing file read-only: reads work, writes are refused, nothing is migrated', () => {
    const path = tempPath();
    strataFile(path, 5);
    const before = digest(path);
    const tier = new SqliteTier({
      path,
      readonly: true,
      purgeIntervalMs: 0,
      busyTimeoutMs: 100,
      clock: systemClock,
    });
    expect(tier.stats().entries).toBe(5);
    expect(tier.health()).toEqual({ status: 'up' });
    expect(() => tier.delete({ namespace: 'n', hash: 'k1', llmString: 'l', prompt: '' })).toThrow(
      /read-only/,
    );
    tier.close();
    expect(digest(path)).toBe(before);
  });

  it('a missing file is reported missing and not created', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-missing-'));
    dirs.push(dir);
    const path = join(dir, 'sub', 'cache.db');
    expect(
      () =>
        new SqliteTier({ path, readonly: true, purgeIntervalMs: 0, busyTimeoutMs: 100, clock: systemClock }),
    ).toThrow(/missing/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
