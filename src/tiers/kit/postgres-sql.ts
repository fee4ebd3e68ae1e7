/**
 * SQL helpers shared by the PostgreSQL tier and the semantic tier's PostgreSQL store: pooled
 * clients and transactions, text columns that hold any JS string exactly, and the table prefix
 * rule (table names cannot be bound parameters).
 *
 * A pooled client checked out for several statements: while a client is checked out the pool
 * does not listen to it, and node-postgres emits a lost connection's error on the client itself
 * (also when a statement is running, after failing it): with no listener that error would crash
 * the process. `withClient` listens for as long as it holds the client, and destroys instead of
 * reusing a client whose connection failed or that the caller discarded.
 */
import type pg from 'pg';

/**
 * Checked here and again where the SQL is built (a programmatic caller may skip the config).
 * PostgreSQL folds unquoted names to lower case and refuses one that starts with a digit, and an
 * empty prefix would name tables `cache` or `migrations`, which an application may have already:
 * so lower case, a letter or _ first, 1-32 characters.
 */
export const PG_TABLE_PREFIX = /^[a-z_][a-z0-9_]{0,31}$/;
export const PG_TABLE_PREFIX_RULE =
  'lower-case letters, digits and _ only, starting with a letter or _, 1-32 characters';

export async function withClient<T>(
  pool: pg.Pool,
  use: (client: pg.PoolClient, discard: (error: Error) => void) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const discard = (error: Error) => {
    broken ??= error;
  };
  client.on('error', discard);
  try {
    return await use(client, discard);
  } finally {
    client.off('error', discard);
    client.release(broken);
  }
}

/** BEGIN, the work, COMMIT; on failure ROLLBACK, and a client whose rollback failed is not reused. */
export function transaction(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  return withClient(pool, async (client, discard) => {
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(discard);
      throw error;
    }
  });
}

/** What PostgreSQL text cannot hold exactly, and %, the escape itself. */
const UNSTORABLE = /%|\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A string as a text column holds it exactly: %, U+0000 and lone surrogates as %XXXX (UTF-16 code unit). */
export function toColumn(text: string): string {
  return text.replace(UNSTORABLE, (c) => `%${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function fromColumn(stored: string): string {
  return stored.replace(/%([0-9a-f]{4})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** The text without U+0000, which a PostgreSQL text value cannot hold. */
export function withoutNul(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '') : text;
}
