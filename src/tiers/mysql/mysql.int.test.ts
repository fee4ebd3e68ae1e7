import { randomUUID } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { expectBurstServed } from '../../../test/support/concurrent-lookups.js';
import { expectFleetStore } from '../../../test/support/fleet-store.js';
import { killMidLoop } from '../../../test/support/kill-drill.js';
import { service } from '../../../test/support/services.js';
import { main } from '../../cli/main.js';
import { systemClock } from '../../core/clock.js';
import { createCache } from '../../langchain/create.js';
import { describeTierConformance } from '../../testing/conformance.js';
import { MysqlTier } from './index.js';

const url = service('mariadb').STRATA_TEST_MYSQL_URL!;
let raw = await createConnection({ uri: url, charset: 'utf8mb4_bin' });
afterAll(async () => {
  await raw.end();
});
const quiet = { warn: () => {} };
const freshPrefix = () => `t${randomUUID().replaceAll('-', '').slice(0, 10)}_`;

async function dropTables(prefix: string): Promise<void> {
  // The server may have been restarted since: reconnect if needed.
  try {
    await raw.query('SELECT 1');
  } catch {
    raw = await createConnection({ uri: url, charset: 'utf8mb4_bin' });
  }
  for (const t of ['tags', 'cache', 'stats', 'migrations', 'fleet_counters'])
    await raw.query(`DROP TABLE IF EXISTS ${prefix}${t}`);
}

describeTierConformance('mysql (MariaDB)', async (clock) => {
  const tablePrefix = freshPrefix();
  const tier = new MysqlTier({
    url,
    poolSize: 5,
    tablePrefix,
    connectTimeoutMs: 2_000,
    purgeIntervalMs: 0,
    clock,
  });
  return {
    tier,
    corrupt: async (key, bytes) => {
      await raw.execute(`UPDATE ${tablePrefix}cache SET response = ? WHERE key_hash = ?`, [bytes, key.hash]);
    },
    cleanup: () => dropTables(tablePrefix),
  };
});

describe('mysql tier', () => {
  it('keeps one entry per llm key for the same prompt, and bumps cache_version on overwrite', async () => {
    const tablePrefix = freshPrefix();
    const cache = await createCache({ tiers: [{ type: 'mysql', url, tablePrefix }] }, { logger: quiet });
    try {
      await cache.update('Same prompt', 'model:"a"', [{ text: 'from model a' }]);
      await cache.update('Same prompt', 'model:"b"', [{ text: 'from model b' }]);
      await cache.update('Same prompt', 'model:"b"', [{ text: 'from model b, again' }]);
      expect((await cache.lookup('Same prompt', 'model:"a"'))?.[0]?.text).toBe('from model a');
      expect((await cache.lookup('Same prompt', 'model:"b"'))?.[0]?.text).toBe('from model b, again');
      const [rows] = await raw.query(
        `SELECT llm_string, cache_version FROM ${tablePrefix}cache ORDER BY llm_string`,
      );
      expect(rows).toEqual([
        { llm_string: 'model:"a"', cache_version: 1 },
        { llm_string: 'model:"b"', cache_version: 2 },
      ]);
    } finally {
      await cache.close();
      await dropTables(tablePrefix);
    }
  });

  it('answers 200 concurrent lookups on a pool of 5 within the timeout', async () => {
    const tablePrefix = freshPrefix();
    const cache = await createCache(
      { coalesceWaitMs: 0, tiers: [{ type: 'mysql', url, tablePrefix, poolSize: 5, timeoutMs: 5_000 }] },
      { logger: quiet },
    );
    try {
      await expectBurstServed(cache);
    } finally {
      await cache.close();
      await dropTables(tablePrefix);
    }
  });

  it('finds a cached prompt by a word in it (strata search)', async () => {
    const tablePrefix = freshPrefix();
    const config = { tiers: [{ type: 'mysql' as const, url, tablePrefix }] };
    const cache = await createCache(config, { logger: quiet });
    await cache.update('How do I rotate the encryption keys of my workspace?', 'model:"x"', [
      { text: 'Settings.' },
    ]);
    await cache.update('What are your opening hours?', 'model:"x"', [{ text: '9-5.' }]);
    await cache.close();
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'strata-search-')), 'strata.config.json');
    writeFileSync(file, JSON.stringify(config));
    const out: string[] = [];
    const code = await main(['search', 'encryption', '--config', file], {
      out: (l) => out.push(l),
      err: () => {},
      interactive: false,
    });
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/rotate the encryption keys/);
    expect(out.join('\n')).not.toMatch(/opening hours/);
    await dropTables(tablePrefix);
  });

  it('persists daily hits and misses in batches, readable with strata stats --days', async () => {
    const tablePrefix = freshPrefix();
    const config = { tiers: [{ type: 'mysql' as const, url, tablePrefix }] };
    const cache = await createCache(config, { logger: quiet });
    await cache.update('known', 'llm', [{ text: 'yes' }]);
    for (let i = 0; i < 3; i++) await cache.lookup('known', 'llm');
    await cache.lookup('unknown', 'llm');
    await cache.close(); // flushes the batch
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'strata-days-')), 'strata.config.json');
    writeFileSync(file, JSON.stringify(config));
    const out: string[] = [];
    const run = (args: string[]) =>
      main(['stats', ...args, '--config', file], {
        out: (l) => out.push(l),
        err: () => {},
        interactive: false,
      });
    expect(await run(['--days', '7', '--json'])).toBe(0);
    const [today] = JSON.parse(out.join('\n')) as Array<{ tier: string; hits: number; misses: number }>;
    expect(today).toMatchObject({ tier: 'mysql', hits: 3, misses: 1 });
    out.length = 0;
    expect(await run(['--days', '7'])).toBe(0);
    expect(out.join('\n')).toMatch(/mysql\s+3\s+1\s+75\.0%/);
    expect(await run(['--days', 'seven'])).toBe(2);
    await dropTables(tablePrefix);
  });

  it('keeps the fleet counters in <prefix>fleet_counters: one row per process, by age, crafted rows skipped', async () => {
    const tablePrefix = freshPrefix();
    const tier = new MysqlTier({
      url,
      poolSize: 2,
      tablePrefix,
      connectTimeoutMs: 2_000,
      purgeIntervalMs: 0,
      clock: systemClock,
    });
    try {
      await expectFleetStore(tier.counters, async (process, at, snapshot) => {
        await raw.execute(
          `REPLACE INTO ${tablePrefix}fleet_counters (process, reported_at, snapshot) VALUES (?, ?, ?)`,
          [process, at, snapshot],
        );
      });
    } finally {
      await tier.close();
      await dropTables(tablePrefix);
    }
  });

  it('survives mariadbd killed mid-loop: misses, no exception, and serves again after a restart', async () => {
    const tablePrefix = freshPrefix();
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          {
            type: 'mysql',
            url,
            tablePrefix,
            timeoutMs: 500,
            breaker: { cooldownMs: 200, maxCooldownMs: 1_000 },
          },
        ],
      },
      { logger: quiet },
    );
    try {
      await killMidLoop(cache, { service: 'mariadb', process: 'mariadb' });
    } finally {
      await cache.close();
      await dropTables(tablePrefix);
    }
  });
});
