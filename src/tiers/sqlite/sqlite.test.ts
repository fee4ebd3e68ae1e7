import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { storedText } from '../../../test/support/entries.js';
import { ManualClock } from '../../core/clock.js';
import { deriveKey } from '../../core/key.js';
import { createCache } from '../../langchain/create.js';
import { describeTierConformance } from '../../testing/conformance.js';
import { SqliteTier } from './index.js';

function tempDb(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'strata-sqlite-'));
  return { dir, path: join(dir, 'cache.db') };
}

describeTierConformance('sqlite', async (clock) => {
  const { dir, path } = tempDb();
  const tier = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 5_000, clock });
  const raw = new Database(path);
  return {
    tier,
    corrupt: (key, bytes) => {
      raw.prepare('UPDATE cache_entries SET response = ? WHERE key_hash = ?').run(bytes, key.hash);
    },
    cleanup: () => {
      raw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const key = (p: string) => deriveKey('n', 'l', p);

describe('sqlite tier', () => {
  it('persists across reopen and records the schema version', () => {
    const { dir, path } = tempDb();
    const clock = new ManualClock();
    const a = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 1000, clock });
    a.set(key('kept'), storedText('kept', clock));
    a.close();
    const b = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 1000, clock });
    expect(b.get(key('kept'))).toContain('kept');
    b.close();
    const raw = new Database(path);
    expect(raw.pragma('user_version', { simple: true })).toBe(3);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('upgrades a version-1 file in place and keeps daily statistics in cache_stats', async () => {
    const { dir, path } = tempDb();
    const clock = new ManualClock(Date.parse('2026-11-26T12:00:00Z'));
    const a = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 1000, clock });
    a.set(key('kept'), storedText('kept', clock));
    a.close();
    const downgrade = new Database(path); // what a version-1 Strata left behind
    downgrade.exec('DROP TABLE cache_stats; DROP TABLE fleet_counters');
    downgrade.pragma('user_version = 1');
    downgrade.close();
    const b = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 1000, clock });
    expect(b.get(key('kept'))).toContain('kept');
    b.get(key('kept'));
    b.get(key('absent'));
    clock.advance(86_400_000); // the next (UTC) day
    b.get(key('kept'));
    expect(await b.daily(7)).toEqual([
      { day: '2026-11-27', tier: 'sqlite', hits: 3, misses: 1, avgLatencyMs: expect.any(Number) },
    ]);
    b.get(key('kept'));
    b.close();
    const raw = new Database(path);
    expect(raw.pragma('user_version', { simple: true })).toBe(3);
    expect(raw.prepare('SELECT day, hits, misses, total FROM cache_stats').all()).toEqual([
      { day: '2026-11-27', hits: 4, misses: 1, total: 5 },
    ]);
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to open a file written by a newer schema', () => {
    const { dir, path } = tempDb();
    const raw = new Database(path);
    raw.pragma('user_version = 99');
    raw.close();
    expect(
      () => new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 1000, clock: new ManualClock() }),
    ).toThrow(/written by a newer version \(user_version 99 > 3\)/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('evicts least recently used rows above maxEntries', () => {
    const { dir, path } = tempDb();
    const clock = new ManualClock();
    const tier = new SqliteTier({ path, maxEntries: 50, purgeIntervalMs: 0, busyTimeoutMs: 1000, clock });
    for (let i = 0; i < 99; i++) {
      clock.advance(10);
      tier.set(key(`k${i}`), storedText(`v${i}`, clock));
      if (i === 49) {
        // The table is full (k0..k49): touch k0, so it is more recent than k1..k49 and the 49 to come.
        clock.advance(10);
        expect(tier.get(key('k0'))).toBeDefined();
      }
      expect(tier.stats().entries).toBeLessThanOrEqual(55); // checked every maxEntries / 10 writes
    }
    tier.purgeExpired();
    expect(tier.stats().entries).toBe(50);
    expect(tier.get(key('k0'))).toBeDefined();
    expect(tier.get(key('k1'))).toBeUndefined();
    expect(tier.get(key('k98'))).toBeDefined();
    tier.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('batches hit counts into access_count', () => {
    const { dir, path } = tempDb();
    const clock = new ManualClock();
    const tier = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 1000, clock });
    tier.set(key('popular'), storedText('p', clock));
    for (let i = 0; i < 7; i++) tier.get(key('popular'));
    tier.close();
    const raw = new Database(path);
    expect(raw.prepare('SELECT access_count FROM cache_entries').pluck().get()).toBe(7);
    raw.close();
    expect(readFileSync(path).length).toBeGreaterThan(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('maxEntries holds for short-lived processes: 12 open / write 5 / close cycles leave at most 10 rows', async () => {
    const { dir, path } = tempDb();
    for (let run = 0; run < 12; run++) {
      const cache = await createCache({ tiers: [{ type: 'sqlite', path, maxEntries: 10 }] });
      for (let i = 0; i < 5; i++) await cache.update(`run ${run} prompt ${i}`, 'llm', [{ text: `a${i}` }]);
      await cache.close();
    }
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT count(*) FROM cache_entries').pluck().get()).toBeLessThanOrEqual(10);
    raw.close();
    const cache = await createCache({ tiers: [{ type: 'sqlite', path, maxEntries: 10 }] });
    expect((await cache.lookup('run 11 prompt 4', 'llm'))?.[0]?.text).toBe('a4');
    await cache.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('maxEntries holds without a close too: a process that dies leaves the next one to trim on its first write', () => {
    const { dir, path } = tempDb();
    const clock = new ManualClock();
    for (let run = 0; run < 12; run++) {
      const tier = new SqliteTier({ path, maxEntries: 10, purgeIntervalMs: 0, busyTimeoutMs: 1000, clock });
      for (let i = 0; i < 5; i++) {
        clock.advance(1);
        tier.set(key(`r${run}-${i}`), storedText(`${i}`, clock));
      }
      expect(tier.stats().entries).toBeLessThanOrEqual(10);
      // no close: the process is killed
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a write that finds the disk full fails, and health reports the tier down with the reason', () => {
    const { dir, path } = tempDb();
    const clock = new ManualClock();
    const tier = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 1000, clock });
    tier.set(key('small'), storedText('small', clock));
    // The file cannot grow past its current size: what SQLite reports on a full disk (SQLITE_FULL).
    const db = Reflect.get(tier, 'db') as Database.Database;
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
    expect(() => tier.set(key('big'), storedText('x'.repeat(200_000), clock))).toThrow(/full/);
    expect(tier.health()).toEqual({ status: 'down', reason: expect.stringMatching(/disk full/) });
    expect(tier.get(key('small'))).toContain('small');
    tier.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
