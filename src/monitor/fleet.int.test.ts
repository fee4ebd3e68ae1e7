/**
 * Fleet counters over a shared Redis, PostgreSQL and MariaDB (the SQLite case and the rest are in
 * fleet.test.ts): two app processes, `strata serve`'s API shows their sum, namespace and semantic
 * panels included.
 */
import { randomUUID } from 'node:crypto';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { fleetCase } from '../../test/support/fleet-case.js';
import { service } from '../../test/support/services.js';
import { createCache } from '../langchain/create.js';
import { createMonitor } from './index.js';

const prefix = () => `fleet_${randomUUID().replaceAll('-', '').slice(0, 10)}_`;

/** Drops every table whose name starts with one of `prefixes` (what the tiers created). */
async function dropPostgres(url: string, prefixes: string[]): Promise<void> {
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  try {
    for (const p of prefixes) {
      const { rows } = await raw.query<{ t: string }>(
        'SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() AND starts_with(tablename, $1)',
        [p],
      );
      for (const { t } of rows) await raw.query(`DROP TABLE IF EXISTS "${t}" CASCADE`);
    }
  } finally {
    await raw.end();
  }
}

async function dropMysql(url: string, prefix: string): Promise<void> {
  const raw = await createConnection({ uri: url });
  try {
    const [rows] = await raw.query<RowDataPacket[]>(
      'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?',
      [`${prefix}%`],
    );
    // Tags before entries (a foreign key).
    const names = rows
      .map((r) => String(r.t))
      .sort((a, b) => Number(b.endsWith('tags')) - Number(a.endsWith('tags')));
    for (const t of names) await raw.query(`DROP TABLE IF EXISTS \`${t}\``);
  } finally {
    await raw.end();
  }
}

describe('fleet counters: strata serve shows the sum over every process', () => {
  it('memory + Redis: processes sharing a Redis', async () => {
    const env = service('redis');
    await fleetCase([
      { type: 'memory' },
      { type: 'redis', url: env.STRATA_TEST_REDIS_URL!, keyPrefix: `fleet${Date.now()}` },
    ]);
  });

  it('memory + PostgreSQL + a semantic tier on pgvector: namespaces and matching are the fleet sum', async () => {
    const url = service('postgres').STRATA_TEST_POSTGRES_URL!;
    const [tiers, semantic] = [prefix(), prefix()];
    try {
      await fleetCase(
        [
          { type: 'memory' },
          { type: 'postgres', url, tablePrefix: tiers },
          {
            type: 'semantic',
            embeddings: 'lexical',
            threshold: 0.5,
            store: { type: 'postgres', url, tablePrefix: semantic },
          },
        ],
        { similar: 3 },
      );
    } finally {
      await dropPostgres(url, [tiers, semantic]);
    }
  });

  it('memory + MariaDB + a semantic tier per process: namespaces and matching are the fleet sum', async () => {
    const url = service('mariadb').STRATA_TEST_MYSQL_URL!;
    const tablePrefix = prefix();
    try {
      await fleetCase(
        [
          { type: 'memory' },
          { type: 'mysql', url, tablePrefix },
          { type: 'semantic', embeddings: 'lexical', threshold: 0.5, path: ':memory:' },
        ],
        { similar: 2 },
      );
    } finally {
      await dropMysql(url, tablePrefix);
    }
  });
});

describe('a fleet store that is down', () => {
  it('is a miss: reports and reads fail quietly, serve shows this process, nothing throws', async () => {
    const warnings: string[] = [];
    const cache = await createCache(
      {
        tiers: [
          { type: 'memory' },
          {
            type: 'postgres',
            url: 'postgres://strata@127.0.0.1:1/none',
            tablePrefix: prefix(),
            timeoutMs: 300,
          },
        ],
        monitoring: { reportSeconds: 1 },
      },
      { logger: { warn: (m) => warnings.push(m) } },
    );
    const monitor = createMonitor(cache, undefined, { fleet: true });
    try {
      await cache.lookup('q', 'model:"m"');
      const report = await monitor.report();
      expect(report.stats.lookups).toBe(1); // this process's own
      expect((await monitor.panels()).namespaces).toHaveLength(1);
      expect(warnings.length).toBeGreaterThan(0);
    } finally {
      monitor.close();
      await cache.close();
    }
  });
});
