/**
 * The shared semantic store's int tests on the running PostgreSQL: a raw pool for checking and
 * crafting rows, a fresh table prefix per store, and after all of a file's tests its stores
 * closed and every `<prefix>semantic_*` table dropped.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';
import { service } from './services.js';

interface Closable {
  close(): unknown;
}

export function semanticTables<S extends Closable>(
  letter: string,
  poolSize = 2,
): { url: string; raw: pg.Pool; stores: S[]; freshPrefix(): string } {
  const url = service('postgres').STRATA_TEST_POSTGRES_URL!;
  const raw = new pg.Pool({ connectionString: url, max: poolSize });
  raw.on('error', () => {});
  const prefixes: string[] = [];
  const stores: S[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    for (const prefix of prefixes) {
      const { rows } = await raw.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE tablename LIKE $1 || 'semantic_%'",
        [prefix],
      );
      for (const { name } of rows) await raw.query(`DROP TABLE IF EXISTS ${name}`);
    }
    await raw.end();
  });
  const freshPrefix = () => {
    const prefix = `${letter}${randomUUID().replaceAll('-', '').slice(0, 10)}_`;
    prefixes.push(prefix);
    return prefix;
  };
  return { url, raw, stores, freshPrefix };
}
