import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { fleetCase } from '../../test/support/fleet-case.js';
import type { StrataConfig } from '../config/schema.js';
import { createCache } from '../langchain/create.js';
import { createMonitor } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-fleet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleet counters: strata serve shows the sum over every process', () => {
  it('memory + SQLite: processes on one machine sharing the SQLite file', async () => {
    await fleetCase([{ type: 'memory' }, { type: 'sqlite', path: join(dir, 'fleet.db') }]);
  });

  it('without fleet mode, a monitor shows its own process only', async () => {
    const path = join(dir, 'own.db');
    const config: StrataConfig = { tiers: [{ type: 'sqlite', path }], monitoring: { reportSeconds: 1 } };
    const other = await createCache(config);
    await other.lookup('elsewhere', 'llm');
    await other.close(); // reports on close
    const cache = await createCache(config);
    const own = createMonitor(cache);
    const fleet = createMonitor(cache, undefined, { fleet: true });
    try {
      expect((await own.stats()).lookups).toBe(0);
      expect((await fleet.stats()).lookups).toBe(1);
    } finally {
      own.close();
      fleet.close();
      await cache.close();
    }
  });
});

describe('fleet counters, when the shared tier is down at start-up', () => {
  it('are reported once the tier opens', async () => {
    // The SQLite file's directory is a file at first: the tier cannot be opened and is down.
    const parent = join(dir, 'not-yet-a-directory');
    writeFileSync(parent, 'a file where the directory should be');
    const cache = await createCache(
      {
        tiers: [
          { type: 'memory' },
          { type: 'sqlite', path: join(parent, 'cache.db'), breaker: { cooldownMs: 100 } },
        ],
        monitoring: { reportSeconds: 1 },
      },
      { logger: { warn: () => {} } },
    );
    try {
      expect((await cache.health()).tiers[1]).toMatchObject({ status: 'down' });
      await cache.update('q', 'model:"m"', [{ text: 'a' }]);
      await cache.lookup('q', 'model:"m"');
      rmSync(parent);
      mkdirSync(parent);
      const rows = () => {
        try {
          const db = new Database(join(parent, 'cache.db'), { readonly: true, fileMustExist: true });
          try {
            return (db.prepare('SELECT count(*) AS n FROM fleet_counters').get() as { n: number }).n;
          } finally {
            db.close();
          }
        } catch {
          return 0;
        }
      };
      // The tier re-opens on its backoff (a lookup finds it due); the next report reaches it.
      await expect
        .poll(
          async () => {
            await cache.lookup('q', 'model:"m"');
            return rows();
          },
          { timeout: 15_000, interval: 250 },
        )
        .toBe(1);
    } finally {
      await cache.close();
    }
  });
});
