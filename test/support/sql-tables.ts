/**
 * Tables a suite's cases create on a shared SQL server, one prefix per case, dropped after all of
 * them over a direct connection (the cases may reach the server through a faulty proxy).
 */
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { afterAll } from 'vitest';

/** Returns `prefixFor(run)`: a fresh table prefix, dropped with every table under it after all. */
export function tablesDroppedAfterAll(server: 'postgres' | 'mysql', url: URL): (run: string) => string {
  const prefixes: string[] = [];
  afterAll(() => (server === 'postgres' ? dropPostgres(url, prefixes) : dropMysql(url, prefixes)));
  return (run) => {
    const prefix = `chaos_${run}_`;
    prefixes.push(prefix);
    return prefix;
  };
}

/** The same server's URL, reached at `listen` (a proxy's host:port). */
export function viaProxy(url: URL, listen: string): string {
  const proxied = new URL(url.href);
  proxied.host = listen;
  return proxied.href;
}

async function dropPostgres(url: URL, prefixes: string[]): Promise<void> {
  const raw = new pg.Client({ connectionString: url.href });
  await raw.connect();
  try {
    for (const prefix of prefixes) {
      const { rows } = await raw.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)",
        [prefix],
      );
      for (const { tablename } of rows) await raw.query(`DROP TABLE IF EXISTS "${tablename}" CASCADE`);
    }
  } finally {
    await raw.end();
  }
}

async function dropMysql(url: URL, prefixes: string[]): Promise<void> {
  const raw = await createConnection({ uri: url.href });
  try {
    // The tier's tables reference each other (tags -> cache); their order is the schema's business.
    await raw.query('SET FOREIGN_KEY_CHECKS = 0');
    for (const prefix of prefixes) {
      const [rows] = await raw.query(
        'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE ?',
        [`${prefix.replaceAll('_', '\\_')}%`],
      );
      for (const { name } of rows as { name: string }[]) await raw.query(`DROP TABLE IF EXISTS \`${name}\``);
    }
  } finally {
    await raw.end();
  }
}
