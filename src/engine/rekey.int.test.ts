/**
 * Key rotation under load over real backends: SQLite, Redis, PostgreSQL and MySQL (MariaDB) as
 * one write-through cache, the application's workload running while `rekey` moves every tier to
 * the new key (test/support/rotation.ts), then each tier checked alone with the old key removed.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { rotateUnderLoad } from '../../test/support/rotation.js';
import { service } from '../../test/support/services.js';
import type { StrataConfig } from '../config/schema.js';

const redisUrl = service('redis').STRATA_TEST_REDIS_URL!;
const postgresUrl = service('postgres').STRATA_TEST_POSTGRES_URL!;
const mysqlUrl = service('mariadb').STRATA_TEST_MYSQL_URL!;
const unique = randomUUID().replaceAll('-', '').slice(0, 10);
const keyPrefix = `strata-rekey-${unique}`;
const tablePrefix = `rk${unique}_`;
const dir = mkdtempSync(join(tmpdir(), 'strata-rekey-int-'));

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  const redis = createClient({ url: redisUrl });
  await redis.connect();
  for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}:*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.unlink(keys);
  await redis.close();
  const pgPool = new pg.Pool({ connectionString: postgresUrl, max: 1 });
  for (const t of ['tags', 'cache', 'stats', 'migrations', 'fleet_counters'])
    await pgPool.query(`DROP TABLE IF EXISTS ${tablePrefix}${t}`);
  await pgPool.end();
  const my = await mysql.createConnection(mysqlUrl);
  for (const t of ['tags', 'cache', 'stats', 'migrations', 'fleet_counters'])
    await my.query(`DROP TABLE IF EXISTS ${tablePrefix}${t}`);
  await my.end();
});

type Tiers = StrataConfig['tiers'];
const TIERS: Tiers = [
  { type: 'sqlite', name: 'sqlite', path: join(dir, 'cache.db') },
  { type: 'redis', name: 'redis', url: redisUrl, keyPrefix },
  { type: 'postgres', name: 'postgres', url: postgresUrl, tablePrefix },
  { type: 'mysql', name: 'mysql', url: mysqlUrl, tablePrefix },
];

describe('rekey under load, real backends', () => {
  it('SQLite + Redis + PostgreSQL + MySQL: nothing lost, nothing back, all under the new key', async () => {
    const outcome = await rotateUnderLoad(TIERS, (name) => TIERS.filter((t) => t.name === name), 300);
    expect(outcome.report.tiers.map((t) => t.tier)).toEqual(['sqlite', 'redis', 'postgres', 'mysql']);
    for (const t of outcome.report.tiers) expect(t.rekeyed, t.tier).toBeGreaterThan(0);
    expect(outcome.opsDuringRekey).toBeGreaterThan(100);
    expect(outcome.hitsDuringRekey).toBeGreaterThan(0);
  }, 120_000);
});
