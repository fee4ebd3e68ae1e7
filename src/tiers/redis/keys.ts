/**
 * The Redis tier's key layout, under a versioned prefix (default `strata:v1`):
 *   <prefix>:<namespace>:<hash>          the encoded entry, with PX when it expires
 *   <prefix>:<namespace>:tag:<tag>       set of hashes carrying the tag
 *   <prefix>:<namespace>:lease:<hash>    distributed-coalescing claim (SET NX PX)
 *   <prefix>:bus                         pub/sub channel of the invalidation bus
 *   <prefix>:fleet                       every process's counters (one hash field each)
 * Namespaces and tags are percent-escaped inside keys (everything but letters, digits and
 * . _ @ + = / -), so they never contain the separator, a glob character or a brace: a SCAN
 * pattern matches them literally, and no key carries a Cluster hash tag, so one namespace's
 * entries spread over every master and no command touches two keys at once (no CROSSSLOT).
 * `bus` and `fleet` have no second `:`, so no namespace pattern `<prefix>:<ns>:*` matches them.
 */
import type { CacheKey } from '../../core/key.js';

/** After the prefix, an entry key is exactly <escaped namespace>:<sha256>; tag and lease keys have more parts. */
const ENTRY_KEY_REST = /^[^:]+:[0-9a-f]{64}$/;

export class RedisKeys {
  /** The entry-key prefix of the last namespace asked (a process mostly asks one): no escape per GET. */
  private lastNamespace: string | undefined;
  private lastEntryPrefix = '';

  constructor(readonly prefix: string) {}

  entry(namespace: string, hash: string): string {
    if (namespace !== this.lastNamespace) {
      this.lastEntryPrefix = `${this.prefix}:${escapeKeyPart(namespace)}:`;
      this.lastNamespace = namespace;
    }
    return this.lastEntryPrefix + hash;
  }

  tag(namespace: string, tag: string): string {
    return `${this.prefix}:${escapeKeyPart(namespace)}:tag:${escapeKeyPart(tag)}`;
  }

  /** Every tag set of `tag`, in any namespace (a SCAN pattern). */
  tagPattern(tag: string): string {
    return `${this.prefix}:*:tag:${escapeKeyPart(tag)}`;
  }

  /** Every key of a namespace, or of all (a SCAN pattern). */
  namespacePattern(namespace?: string): string {
    return `${this.prefix}:${namespace === undefined ? '*' : escapeKeyPart(namespace)}:*`;
  }

  lease(key: CacheKey): string {
    return `${this.prefix}:${escapeKeyPart(key.namespace)}:lease:${key.hash}`;
  }

  get bus(): string {
    return `${this.prefix}:bus`;
  }

  get fleet(): string {
    return `${this.prefix}:fleet`;
  }

  isEntry(key: string): boolean {
    return ENTRY_KEY_REST.test(key.slice(this.prefix.length + 1));
  }

  /** The namespace of a key this tier wrote. */
  namespaceOf(key: string): string {
    const rest = key.slice(this.prefix.length + 1);
    return decodeURIComponent(rest.slice(0, rest.indexOf(':')));
  }
}

/**
 * Percent-escapes (UTF-8) every character but letters, digits and . _ @ + = / - : no ':'
 * separator, glob character or Cluster hash-tag brace survives. decodeURIComponent reverses it.
 */
export function escapeKeyPart(value: string): string {
  return value.replace(/[^A-Za-z0-9._@+=/-]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}
