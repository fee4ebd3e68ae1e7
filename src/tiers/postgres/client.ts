/**
 * A pooled client checked out for several statements, shared by the tier and the semantic
 * store. While a client is checked out the pool does not listen to it, and node-postgres emits a
 * lost connection's error on the client itself (also when a statement is running, after failing
 * it): with no listener that error would crash the process. `withClient` listens for as long as
 * it holds the client, and destroys instead of reusing a client whose connection failed or that
 * the caller discarded.
 */
import type pg from 'pg';

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
