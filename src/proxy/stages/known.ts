/**
 * Requests keyed before, by their exact bytes. A client that repeats a request (what a cache hit
 * is) sends the same bytes every time, and deriving its key costs many times reading them: the
 * body parsed, its credentials scrubbed, its canonical form written out and hashed (some 60 us of
 * a 1.5 kB chat request, most of a hit). So what the parse stage derived from a body is kept for
 * the bodies seen most recently, found again by one SHA-256 over the raw bytes and everything
 * else the derivation reads: the endpoint, the caller's namespace (its tenant), the URL's query,
 * the `Cache-Control` header, the headers the endpoint keys (`keyHeaders`), and the generation of
 * the digest key (the scrubbed form holds digests made with it). Equal digests: equal inputs, so
 * the same key, controls and canonical request as a fresh parse would derive.
 *
 * Bounded by entries and by the characters of the prompts kept (a kept prompt is about the size of
 * its body); bodies above `maxBody` bytes are derived every time and never kept. In this process
 * only, and never holding a credential: prompts are kept as keyed (scrubbed), as the key has them.
 */
import { hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CacheKey } from '../../core/key.js';
import { digestKeyGeneration } from '../../core/secrets.js';
import type { Controls } from '../controls.js';
import type { CanonicalRequest, Endpoint } from '../endpoints/endpoint.js';
import { header } from '../tenancy.js';
import { SizedLru } from './sized-lru.js';

/** What the parse stage derived from one body, all of it a function of the inputs digested. */
export interface Derived {
  readonly canonical: CanonicalRequest;
  readonly controls: Controls;
  readonly key: CacheKey;
  /** The top-level `model` as sent (routing), when a string. */
  readonly model: string;
  /** The body has a top-level `cache` field (LiteLLM's): it is forwarded without it, re-serialized. */
  readonly hasCache: boolean;
  /** The request asks the upstream to store its answer (upstream-store.ts). */
  readonly asksToStore: boolean;
  /** The request's values of the fields its answer echoes (Endpoint.echo), '' for none. */
  readonly echo: string;
}

/** A request's digest (KnownRequests.digest) and, when it is known, what was derived from it. */
export interface Found {
  readonly digest: string;
  readonly derived?: Derived;
}

export const KNOWN_MAX_ENTRIES = 4096;
export const KNOWN_MAX_CHARS = 16 * 1024 * 1024;
export const KNOWN_MAX_BODY = 256 * 1024;

export class KnownRequests {
  /** By digest. Bounded by entries and by the characters of what is kept. */
  private readonly known: SizedLru<Derived>;

  constructor(
    maxEntries = KNOWN_MAX_ENTRIES,
    maxChars = KNOWN_MAX_CHARS,
    readonly maxBody = KNOWN_MAX_BODY,
  ) {
    this.known = new SizedLru(maxChars, maxEntries);
  }

  /**
   * The digest of everything a derivation from `raw` reads; undefined for a body too large to
   * keep. The fields are each prefixed by their length (so no two field lists spell one text),
   * then the bytes' own digest. A digest, not the bytes themselves: a body may hold a credential,
   * which this keeps no longer than the request lasts (nor a query, which may hold one too).
   */
  digest(
    endpoint: Endpoint,
    namespace: string,
    search: string,
    headers: IncomingMessage['headers'],
    raw: Buffer,
  ): string | undefined {
    if (raw.length > this.maxBody) return undefined;
    let text = `${field(endpoint.path)}${field(namespace)}${field(search)}${field(header(headers, 'cache-control'))}`;
    for (const name of endpoint.keyHeaders ?? []) text += field(flat(headers[name]));
    // One-shot hashes: a Hash object per request cost more than hashing the body.
    const id = `${text}${digestKeyGeneration()}:${hash('sha256', raw, 'base64')}`;
    // The fields hold no credential unless the query does (`?key=`): only then is the whole hashed.
    return search === '' ? id : hash('sha256', id, 'base64');
  }

  /** The digest of a request's inputs, and what was derived from them if they are known. */
  find(
    endpoint: Endpoint,
    namespace: string,
    search: string,
    headers: IncomingMessage['headers'],
    raw: Buffer,
  ): Found | undefined {
    const digest = this.digest(endpoint, namespace, search, headers, raw);
    if (digest === undefined) return undefined;
    const derived = this.get(digest);
    return derived === undefined ? { digest } : { digest, derived };
  }

  get(digest: string): Derived | undefined {
    return this.known.get(digest);
  }

  set(digest: string, derived: Derived): void {
    this.known.set(digest, derived, sizeOf(derived) + digest.length);
  }

  get size(): number {
    return this.known.size;
  }
}

/** A field of the digested text: its length, then itself; `-` for none. */
function field(value: string | undefined): string {
  return value === undefined ? '-' : `${value.length}:${value}`;
}

/** A header's value as the endpoints read it (flatHeaders in parse.ts). */
export function flat(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function sizeOf(d: Derived): number {
  // The canonical prompt and the key's are one string unless the key adds the query to it.
  const prompt = d.key.prompt.length + (d.key.prompt === d.canonical.prompt ? 0 : d.canonical.prompt.length);
  return prompt + d.canonical.question.length + d.echo.length;
}
