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

import { SizedLru } from './sized-lru.js';

interface Prepared {
  /** The shared answer the body was built from. */
  readonly entry: object;
  readonly body: Buffer;
}

export const PREPARED_MAX_BYTES = 16 * 1024 * 1024;
export const PREPARED_MAX_BODY = 256 * 1024;

export class PreparedHits {
  /** By key hash and shape. */
  private readonly prepared: SizedLru<Prepared>;

  constructor(
    maxBytes = PREPARED_MAX_BYTES,
    private readonly maxBody = PREPARED_MAX_BODY,
  ) {
    this.prepared = new SizedLru(maxBytes);
  }

  /** The bytes kept for this key and shape, if they were built from this very answer. */
  get(hash: string, shape: string, entry: object): Buffer | undefined {
    const id = `${hash}\u0000${shape}`;
    const found = this.prepared.get(id);
    if (found === undefined) return undefined;
    if (found.entry !== entry) {
      this.prepared.delete(id);
      return undefined;
    }
    return found.body;
  }

  set(hash: string, shape: string, entry: object, body: Buffer): void {
    if (body.length > this.maxBody) return;
    const id = `${hash}\u0000${shape}`;
    // What it holds in memory: the body, about as much for the answer, and the key.
    this.prepared.set(id, { entry, body }, 2 * body.length + id.length);
  }

  get size(): number {
    return this.prepared.size;
  }
}

/** The shape of a hit's response: what its bytes depend on besides the stored answer. */
export function shapeOf(stream: boolean, includeUsage: boolean, zero: boolean, echo: string): string {
  return `${stream ? (includeUsage ? 'sse+usage' : 'sse') : 'json'}${zero ? ':zero' : ''}:${echo}`;
}
