/**
 * Connections kept out of the pool for the hit path. node-postgres' `pool.query` checks a client
 * out and back in for every statement (a pending-queue entry, a tick, a timer for the checkout
 * timeout, error listeners added and removed): about 5 µs of a 35-45 µs hit on loopback, which is
 * most of what a cache adds to the SELECT. A reader is a pooled client checked out once and kept;
 * a hit goes to an idle reader, else (all busy, none connected yet, the server gone) through the
 * pool as before, so concurrency is never limited by the readers.
 *
 * The pool still creates, authenticates and times out every connection. A reader whose
 * connection ends or fails is handed back to the pool as broken (which closes it) and replaced
 * on a later hit; after a failed checkout no new one is tried for RETRY_MS, so a server that is
 * down costs the hit path nothing but the pool's own fast failure.
 */
import type pg from 'pg';

const RETRY_MS = 1_000;

interface Reader {
  client: pg.PoolClient;
  busy: boolean;
  broken: boolean;
  onEnd?: () => void;
}

export class Readers {
  private readonly readers: Reader[] = [];
  private connecting = false;
  private retryAt = 0;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly max: number,
  ) {}

  /** Runs the statement on an idle reader, or through the pool when none is. */
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const reader = this.idle();
    if (!reader) return this.pool.query<R>(config);
    reader.busy = true;
    return new Promise((resolve, reject) => {
      reader.client.query<R>(config, (error: Error | undefined, result: pg.QueryResult<R>) => {
        reader.busy = false;
        if (error) reject(error);
        else resolve(result);
      });
    });
  }

  /** Gives every reader back to the pool (before pool.end(), which waits for checked-out clients). */
  close(): void {
    this.closed = true;
    for (const r of this.readers.splice(0)) this.drop(r);
  }

  private idle(): Reader | undefined {
    for (const r of this.readers) if (!r.busy && !r.broken) return r;
    if (this.readers.length < this.max) this.connect();
    return undefined;
  }

  private connect(): void {
    if (this.connecting || this.closed || Date.now() < this.retryAt) return;
    this.connecting = true;
    this.pool.connect().then(
      (client) => {
        this.connecting = false;
        if (this.closed) return client.release();
        const reader: Reader = { client, busy: false, broken: false };
        // A lost connection (server restart, network) takes the reader out; a statement that
        // failed on a live connection (a missing table) does not.
        const lost = (error?: Error) => this.remove(reader, error ?? new Error('connection ended'));
        // The error listener stays for good: an error event without one would crash the process.
        client.on('error', lost);
        reader.onEnd = () => lost();
        client.on('end', reader.onEnd);
        this.readers.push(reader);
      },
      () => {
        this.connecting = false;
        this.retryAt = Date.now() + RETRY_MS;
      },
    );
  }

  private remove(reader: Reader, error: Error): void {
    if (reader.broken) return;
    const at = this.readers.indexOf(reader);
    if (at >= 0) this.readers.splice(at, 1);
    this.drop(reader, error);
  }

  private drop(reader: Reader, error?: Error): void {
    if (reader.broken) return;
    reader.broken = true;
    if (reader.onEnd) reader.client.off('end', reader.onEnd);
    // Released with an error, the pool closes the client instead of reusing it. A reader given
    // back at close is released normally (and closed with the pool).
    reader.client.release(error ?? false);
  }
}
