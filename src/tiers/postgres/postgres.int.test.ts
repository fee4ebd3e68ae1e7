import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, cliWorkspaces } from '../../../test/support/cli.js';
import { expectBurstServed } from '../../../test/support/concurrent-lookups.js';
import { expectFleetStore } from '../../../test/support/fleet-store.js';
import { killMidLoop } from '../../../test/support/kill-drill.js';
import { service } from '../../../test/support/services.js';
import { systemClock } from '../../core/clock.js';
import { createCache } from '../../langchain/create.js';
import { describeTierConformance } from '../../testing/conformance.js';
import { withClient } from '../kit/postgres-sql.js';
import { PostgresTier } from './index.js';

const url = service('postgres').STRATA_TEST_POSTGRES_URL!;
// A pool, so a server restart (the kill drill) costs nothing here.
const raw = new pg.Pool({ connectionString: url, max: 2 });
raw.on('error', () => {});
afterAll(async () => {
  await raw.end();
});
const quiet = { warn: () => {} };
const { workspace } = cliWorkspaces('strata-pg-cli-');
const freshPrefix = () => `t${randomUUID().replaceAll('-', '').slice(0, 10)}_`;

async function dropTables(prefix: string): Promise<void> {
  for (const t of ['tags', 'cache', 'stats', 'migrations', 'fleet_counters'])
    await raw.query(`DROP TABLE IF EXISTS ${prefix}${t}`);
}

describeTierConformance('postgres (PostgreSQL 18)', async (clock) => {
  const tablePrefix = freshPrefix();
  const tier = new PostgresTier({
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
      await raw.query(`UPDATE ${tablePrefix}cache SET response = $1 WHERE key_hash = $2`, [bytes, key.hash]);
    },
    cleanup: () => dropTables(tablePrefix),
  };
});

describe('postgres tier', () => {
  it('keeps one entry per llm key for the same prompt, and bumps cache_version on overwrite', async () => {
    const tablePrefix = freshPrefix();
    const cache = await createCache({ tiers: [{ type: 'postgres', url, tablePrefix }] }, { logger: quiet });
    try {
      await cache.update('Same prompt', 'model:"a"', [{ text: 'from model a' }]);
      await cache.update('Same prompt', 'model:"b"', [{ text: 'from model b' }]);
      await cache.update('Same prompt', 'model:"b"', [{ text: 'from model b, again' }]);
      expect((await cache.lookup('Same prompt', 'model:"a"'))?.[0]?.text).toBe('from model a');
      expect((await cache.lookup('Same prompt', 'model:"b"'))?.[0]?.text).toBe('from model b, again');
      const { rows } = await raw.query(
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

  // Half the pool is kept for hits (readers.ts): a pool of 1 keeps none, 2 keeps one.
  it.each([5, 2, 1])(
    'answers 200 concurrent lookups on a pool of %i within the timeout',
    async (poolSize) => {
      const tablePrefix = freshPrefix();
      const cache = await createCache(
        { coalesceWaitMs: 0, tiers: [{ type: 'postgres', url, tablePrefix, poolSize, timeoutMs: 5_000 }] },
        { logger: quiet },
      );
      try {
        await expectBurstServed(cache);
      } finally {
        await cache.close();
        await dropTables(tablePrefix);
      }
    },
  );

  it('replaces connections the server ends (hit connections included): no exception, hits again', async () => {
    const tablePrefix = freshPrefix();
    const app = `strata_${tablePrefix}`;
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [{ type: 'postgres', url: `${url}?application_name=${app}`, tablePrefix, poolSize: 4 }],
      },
      { logger: quiet },
    );
    const backends = async () =>
      (await raw.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [app]))
        .rows[0].n as number;
    try {
      for (let i = 0; i < 10; i++) await cache.update(`q${i}`, 'llm', [{ text: `a${i}` }]);
      // Concurrent hits, so the pool opens connections and the tier keeps two of them for hits.
      for (let round = 0; round < 5; round++)
        await Promise.all(Array.from({ length: 8 }, (_, i) => cache.lookup(`q${i}`, 'llm')));
      expect(await backends()).toBeGreaterThanOrEqual(2);
      await raw.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        app,
      ]);
      await expect.poll(backends).toBe(0);
      const answers: Array<string | undefined> = [];
      for (let i = 0; i < 30; i++) answers.push((await cache.lookup(`q${i % 10}`, 'llm'))?.[0]?.text);
      // A statement on an ended connection may fail (a miss); then every lookup hits again.
      expect(answers.slice(-20)).toEqual(Array.from({ length: 20 }, (_, i) => `a${(i + 10) % 10}`));
      for (let round = 0; round < 5; round++)
        await Promise.all(Array.from({ length: 8 }, (_, i) => cache.lookup(`q${i}`, 'llm')));
      expect(await backends()).toBeGreaterThanOrEqual(2);
    } finally {
      await cache.close();
      await dropTables(tablePrefix);
    }
  });

  it('a connection lost while a client is held for several statements fails them, never the process', async () => {
    const app = `strata_${freshPrefix()}`;
    const pool = new pg.Pool({ connectionString: `${url}?application_name=${app}`, max: 1 });
    pool.on('error', () => {});
    try {
      const failed = await withClient(pool, async (c) => {
        await c.query('SELECT 1');
        await raw.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
          [app],
        );
        // The error event arrives while no statement runs: unheard, it would be an uncaught exception.
        await new Promise((resolve) => setTimeout(resolve, 300));
        return c.query('SELECT 1');
      }).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(Error);
      // The broken client was not put back: the next statement gets a new connection.
      expect((await pool.query('SELECT 2 AS n')).rows[0].n).toBe(2);
    } finally {
      await pool.end();
    }
  });

  it('stores a prompt with U+0000 and lone surrogates: the entry is exact, only the search column drops the NUL', async () => {
    const tablePrefix = freshPrefix();
    const cache = await createCache({ tiers: [{ type: 'postgres', url, tablePrefix }] }, { logger: quiet });
    try {
      const prompt = 'System: be brief\u0000\nHuman: 你好 \ud83d and \udc4b 👋 cut mid-emoji \ud83d';
      await cache.update(prompt, 'model:"x"', [{ text: 'answer \u0000 kept' }]);
      expect((await cache.lookup(prompt, 'model:"x"'))?.[0]?.text).toBe('answer \u0000 kept');
      expect(await cache.lookup(prompt.replace('\u0000', ''), 'model:"x"')).toBeNull();
      expect((await cache.stats()).tiers[0]).toMatchObject({ errors: 0 });
    } finally {
      await cache.close();
      await dropTables(tablePrefix);
    }
  });

  it('stores a prompt of 1 MB of distinct tokens (a pasted file): search indexes its start, the tier stays up', async () => {
    const tablePrefix = freshPrefix();
    const cache = await createCache({ tiers: [{ type: 'postgres', url, tablePrefix }] }, { logger: quiet });
    try {
      const pasted = Array.from(
        { length: 90_000 },
        (_, i) => `tok${i.toString(36)}x${(i * 7919).toString(36)}`,
      ).join(' ');
      expect(pasted.length).toBeGreaterThan(1_000_000);
      for (let i = 0; i < 6; i++)
        await cache.update(`Human: review this file ${i}\n${pasted}`, 'llm', [{ text: `ok ${i}` }]);
      await cache.update('Human: small', 'llm', [{ text: 'small answer' }]);
      expect((await cache.lookup(`Human: review this file 5\n${pasted}`, 'llm'))?.[0]?.text).toBe('ok 5');
      expect((await cache.lookup('Human: small', 'llm'))?.[0]?.text).toBe('small answer');
      const stats = await cache.stats();
      expect(stats.tiers[0]).toMatchObject({ errors: 0, breaker: 'closed' });
      expect((await cache.health()).status).toBe('up');
    } finally {
      await cache.close();
      await dropTables(tablePrefix);
    }
  });

  it('refuses a table prefix PostgreSQL would misread or that names ordinary tables, naming the field', async () => {
    for (const tablePrefix of ['1abc_', '', 'Strata_', 'a-b', 'x; DROP TABLE y']) {
      await expect(createCache({ tiers: [{ type: 'postgres', url, tablePrefix }] })).rejects.toThrow(
        /tiers\[0\]\.tablePrefix: lower-case letters/,
      );
      await expect(
        createCache({ tiers: [{ type: 'semantic', store: { type: 'postgres', url, tablePrefix } }] }),
      ).rejects.toThrow(/tiers\[0\]\.store\.tablePrefix: lower-case letters/);
    }
  });

  it('reports down, with the reason, when its tables cannot be created', async () => {
    // Another application's table under the name this tier would use.
    const tablePrefix = freshPrefix();
    await raw.query(`CREATE TABLE ${tablePrefix}migrations (id serial PRIMARY KEY, name text)`);
    const cache = await createCache({ tiers: [{ type: 'postgres', url, tablePrefix }] }, { logger: quiet });
    try {
      expect(await cache.lookup('anything', 'llm')).toBeNull();
      const health = await cache.health();
      expect(health.status).toBe('down');
      expect(JSON.stringify(health)).toMatch(/version/);
    } finally {
      await cache.close();
      await dropTables(tablePrefix);
    }
  });

  it('finds a cached prompt by a word in it (strata search)', async () => {
    const tablePrefix = freshPrefix();
    const config = { tiers: [{ type: 'postgres' as const, url, tablePrefix }] };
    const cache = await createCache(config, { logger: quiet });
    await cache.update('How do I rotate the encryption keys of my workspace?', 'model:"x"', [
      { text: 'Settings.' },
    ]);
    await cache.update('What are your opening hours?', 'model:"x"', [{ text: '9-5.' }]);
    await cache.close();
    const { code, out } = await cli('search', 'encryption', '--config', workspace(config.tiers).config);
    expect(code).toBe(0);
    expect(out.join('\n')).toMatch(/rotate the encryption keys/);
    expect(out.join('\n')).not.toMatch(/opening hours/);
    await dropTables(tablePrefix);
  });

  it('strata search against a server that is down says so and exits 1 (not "no match")', async () => {
    const down = workspace([{ type: 'postgres', url: 'postgres://strata@127.0.0.1:1/x' }]);
    const { code, out, err } = await cli('search', 'encryption', '--config', down.config);
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/tier postgres could not be searched/);
    expect(out.join('\n')).not.toMatch(/no cached prompt matches/);
  });

  it('persists daily hits and misses in batches, readable with strata stats --days', async () => {
    const tablePrefix = freshPrefix();
    const config = { tiers: [{ type: 'postgres' as const, url, tablePrefix }] };
    const cache = await createCache(config, { logger: quiet });
    await cache.update('known', 'llm', [{ text: 'yes' }]);
    for (let i = 0; i < 3; i++) await cache.lookup('known', 'llm');
    await cache.lookup('unknown', 'llm');
    await cache.close(); // flushes the batch
    const file = workspace(config.tiers).config;
    const json = await cli('stats', '--days', '7', '--json', '--config', file);
    expect(json.code).toBe(0);
    const [today] = JSON.parse(json.out.join('\n')) as Array<{ tier: string; hits: number; misses: number }>;
    expect(today).toMatchObject({ tier: 'postgres', hits: 3, misses: 1 });
    const text = await cli('stats', '--days', '7', '--config', file);
    expect(text.code).toBe(0);
    expect(text.out.join('\n')).toMatch(/postgres\s+3\s+1\s+75\.0%/);
    expect((await cli('stats', '--days', 'seven', '--config', file)).code).toBe(2);
    await dropTables(tablePrefix);
  });

  it('keeps the fleet counters in <prefix>fleet_counters: one row per process, by age, crafted rows skipped', async () => {
    const tablePrefix = freshPrefix();
    const tier = new PostgresTier({
      url,
      poolSize: 2,
      tablePrefix,
      connectTimeoutMs: 2_000,
      purgeIntervalMs: 0,
      clock: systemClock,
    });
    try {
      await expectFleetStore(tier.counters, async (process, at, snapshot) => {
        await raw.query(
          `INSERT INTO ${tablePrefix}fleet_counters (process, reported_at, snapshot) VALUES ($1, $2, $3)
           ON CONFLICT (process) DO UPDATE SET reported_at = excluded.reported_at, snapshot = excluded.snapshot`,
          [process, at, snapshot],
        );
      });
    } finally {
      await tier.close();
      await dropTables(tablePrefix);
    }
  });

  it('survives postgres killed mid-loop: misses, no exception, and serves again after a restart', async () => {
    const tablePrefix = freshPrefix();
    const cache = await createCache(
      {
        coalesceWaitMs: 0,
        tiers: [
          {
            type: 'postgres',
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
      await killMidLoop(cache, { service: 'postgres', process: 'postgres' });
    } finally {
      await cache.close();
      await dropTables(tablePrefix);
    }
  });
});
