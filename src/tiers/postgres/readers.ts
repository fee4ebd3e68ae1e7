/**
 * Connections kept out of the pool for the hit path. node-postgres' `pool.query` checks a client
 * out and back in for every statement (a pending-queue entry, a tick, a timer for the checkout
 * timeout, error listeners added and removed): about 5 µs of a 35-45 µs hit on loopback, which is
 * most of what a cache adds to the SELECT. A reader is a pooled client checked out once and kept;
 * a hit goes to an idle reader, else through the pool while it has a connection to spare (none
 * kept yet, the server gone), else it waits its turn on the least busy reader.
 *
 * The pool still creates, authenticates and times out every connection. A reader whose
 * connection ends or fails is handed back to the pool as broken (which closes it) and replaced
 * on a later hit; after a failed checkout no new one is tried for RETRY_MS, so a server that is
 * down costs the hit path nothing but the pool's own fast failure.
 */
import type pg from 'pg';
import { TierUnavailableError } from '../../errors.js';

const RETRY_MS = 1_000;

interface Reader {
  client: pg.PoolClient;
  /** Statements sent and not yet answered. */
  inFlight: number;
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
    /** The pool's size (its `max`). */
    private readonly poolMax: number,
  ) {}

  /**
   * Runs the statement on an idle reader; else through the pool while it has a connection free
   * or room for one; else queued on the least busy reader (its client runs them in turn), so
   * that under load every connection keeps working instead of readers idling beside a long
   * queue in the pool.
   */
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    let reader = this.idle();
    if (!reader) {
      const pool = this.pool;
      if (pool.idleCount > 0 || pool.totalCount < this.poolMax || this.readers.length === 0)
        return pool.query<R>(config);
      reader = this.leastBusy();
    }
    const r = reader;
    r.inFlight++;
    return new Promise((resolve, reject) => {
      r.client.query<R>(config, (error: Error | undefined, result: pg.QueryResult<R>) => {
        r.inFlight--;
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
    for (const r of this.readers) if (r.inFlight === 0 && !r.broken) return r;
    if (this.readers.length < this.max) this.connect();
    return undefined;
  }

  private leastBusy(): Reader {
    let best = this.readers[0]!;
    for (const r of this.readers) if (r.inFlight < best.inFlight) best = r;
    return best;
  }

  private connect(): void {
    if (this.connecting || this.closed || Date.now() < this.retryAt) return;
    this.connecting = true;
    this.pool.connect().then(
      (client) => {
        this.connecting = false;
        if (this.closed) return client.release();
        const reader: Reader = { client, inFlight: 0, broken: false };
        // A lost connection (server restart, network) takes the reader out; a statement that
        // failed on a live connection (a missing table) does not.
        const lost = (error?: Error) =>
          this.remove(reader, error ?? new TierUnavailableError('connection ended'));
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
