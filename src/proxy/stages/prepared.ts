/**
 * The bytes a hit was sent as, kept to be sent again. A hit's body is a function of the stored
 * answer and of the response's shape alone: JSON or a replay of events, the usage chunk or not,
 * usage zeroed or not (hit-usage.ts), and for an endpoint that echoes its request the request's
 * echoed fields. Building it (the answer's usage rewritten, serialized, a stream's events
 * formatted one by one) cost more than everything else a hit does; kept, a repeat is one write.
 *
 * Found by the key's hash and the shape, then confirmed by the answer they were built from: the
 * engine's shared answer (LookupOptions.shared), a frozen object decoded from one payload and
 * used for that payload only (core/decoded.ts). So bytes are only ever sent for the very answer
 * they were built from: a changed entry (a new answer stored under the key) is
 * another object and is built again; and as the key's hash covers the tenant's namespace, no
 * tenant is sent bytes built for another's key. Bounded in bytes (the body, and as much again for
 * the answer it holds on to), least recently used out first; a body above `maxBody` is built
 * every time and never kept.
 */

interface Prepared {
  /** The shared answer the body was built from. */
  readonly entry: object;
  readonly body: Buffer;
  /** What it holds in memory: the body, about as much for the answer, and the key. */
  readonly size: number;
  /** When it was last (re)inserted, in insertions (see `touch`). */
  tick: number;
}

export const PREPARED_MAX_BYTES = 16 * 1024 * 1024;
export const PREPARED_MAX_BODY = 256 * 1024;

export class PreparedHits {
  /** By key hash and shape, least recently used first (insertion order, re-inserted on use). */
  private readonly prepared = new Map<string, Prepared>();
  private bytes = 0;
  /** Counts insertions: how recently an entry was (re)inserted, for `touch`. */
  private tick = 0;

  constructor(
    private readonly maxBytes = PREPARED_MAX_BYTES,
    private readonly maxBody = PREPARED_MAX_BODY,
  ) {}

  /** The bytes kept for this key and shape, if they were built from this very answer. */
  get(hash: string, shape: string, entry: object): Buffer | undefined {
    const id = `${hash}\u0000${shape}`;
    const found = this.prepared.get(id);
    if (found === undefined) return undefined;
    if (found.entry !== entry) {
      this.drop(id, found);
      return undefined;
    }
    this.touch(id, found);
    return found.body;
  }

  set(hash: string, shape: string, entry: object, body: Buffer): void {
    if (body.length > this.maxBody) return;
    const id = `${hash}\u0000${shape}`;
    const size = 2 * body.length + id.length;
    if (size > this.maxBytes) return;
    const had = this.prepared.get(id);
    if (had !== undefined) this.drop(id, had);
    this.prepared.set(id, { entry, body, size, tick: ++this.tick });
    this.bytes += size;
    for (const [oldest, p] of this.prepared) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(oldest, p);
    }
  }

  get size(): number {
    return this.prepared.size;
  }

  /**
   * Used again: moved to the young end, but only once it is in the older half (re-inserting on
   * every use cost more than the rest of a lookup): nearly LRU, evicting only entries unused for a
   * while.
   */
  private touch(id: string, p: Prepared): void {
    if (this.tick - p.tick <= this.prepared.size >> 1) return;
    this.prepared.delete(id);
    p.tick = ++this.tick;
    this.prepared.set(id, p);
  }

  private drop(id: string, p: Prepared): void {
    this.prepared.delete(id);
    this.bytes -= p.size;
  }
}

/** The shape of a hit's response: what its bytes depend on besides the stored answer. */
export function shapeOf(stream: boolean, includeUsage: boolean, zero: boolean, echo: string): string {
  return `${stream ? (includeUsage ? 'sse+usage' : 'sse') : 'json'}${zero ? ':zero' : ''}:${echo}`;
}
