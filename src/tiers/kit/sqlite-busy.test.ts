/**
 * SQLite is synchronous, so a lock held by another process would freeze the whole event loop
 * for as long as the busy timeout lets a call wait. No call may block it longer than the tier's
 * timeoutMs; a write that cannot get the lock in time lands later, from the background.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { holdWriteLock } from '../../../test/support/sqlite-lock.js';
import { createCache } from '../../langchain/create.js';

/** Longest gap between the ticks of a 5 ms interval while `work` runs: how long the loop was blocked. */
async function longestStall(work: () => Promise<void>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await work();
    await new Promise((r) => setTimeout(r, 20));
    longest = Math.max(longest, performance.now() - last);
  } finally {
    clearInterval(timer);
  }
  return longest;
}

function rows(path: string): number {
  const raw = new Database(path, { readonly: true });
  try {
    return raw.prepare('SELECT count(*) FROM cache_entries').pluck().get() as number;
  } finally {
    raw.close();
  }
}

it('a lock held by another process for 3 s stalls the event loop at most timeoutMs; the writes land after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-busy-'));
  const path = join(dir, 'cache.db');
  const timeoutMs = 200;
  const cache = await createCache(
    { coalesceWaitMs: 0, tiers: [{ type: 'sqlite', path, timeoutMs, busyTimeoutMs: 5_000 }] },
    { logger: { warn: () => {} } },
  );
  try {
    await cache.update('before the lock', 'llm', [{ text: 'old answer' }]);
    const { released } = await holdWriteLock(path, 3_000);
    const stall = await longestStall(async () => {
      for (let i = 0; i < 10; i++) {
        await cache.update(`during the lock ${i}`, 'llm', [{ text: `answer ${i}` }]);
        expect((await cache.lookup(`during the lock ${i}`, 'llm'))?.[0]?.text).toBe(`answer ${i}`);
        expect((await cache.lookup('before the lock', 'llm'))?.[0]?.text).toBe('old answer');
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    // Slack for the scheduler: other test files run beside this one. A blocking wait would be
    // the lock's 3 s, far beyond it.
    expect(stall).toBeLessThanOrEqual(timeoutMs + 150);
    await released;
    await expect.poll(() => rows(path), { timeout: 10_000, interval: 50 }).toBe(11);
  } finally {
    await cache.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
