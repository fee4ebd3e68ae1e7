/**
 * What the manager is told: how to run (ManagerOptions), and per call (LookupOptions,
 * WriteOptions), in its own terms; an edge's per-call controls are CacheDirectives
 * (directives.ts), translated into these.
 */
import type { Clock } from './clock.js';
import type { CacheDirectives } from './directives.js';
import type { AtRestOptions } from './encryption/at-rest.js';
import type { Sealer } from './encryption/keyring.js';
import type { Logger } from './events.js';

export interface ManagerOptions {
  clock: Clock;
  /** How long concurrent misses of one key wait for the first caller's answer; 0 disables coalescing. */
  coalesceWaitMs: number;
  storePrompt: boolean;
  logger: Logger;
  /** The config's namespace: where adapters key a call that names none (default "default"). */
  namespace?: string;
  /** The config's lifetime of an entry stored with no TTL of its own (default: never expire). */
  defaultTtlSeconds?: number | null;
  /** How long past its TTL an entry is kept to answer a failed model call (stale.ts); default 0, none. */
  staleIfErrorSeconds?: number;
  /** Encryption at rest (config `encryption`): the key set and whether plain payloads still answer. */
  encryption?: AtRestOptions;
  /** OpenTelemetry spans when an SDK is registered (config `tracing`, default true; core/tracing.ts). */
  tracing?: boolean;
}

export interface LookupOptions {
  /**
   * Whether a miss makes this caller the key's leader, so concurrent lookups wait for its
   * update (default true). A caller that will not store what it computes (`no-store`,
   * `only-if-cached`) passes false: it must never make others wait.
   */
  claim?: boolean;
  /**
   * How long this caller may wait for another caller's answer to the same key. `lease` (default):
   * until the leader stores or releases, bounded by its lease (withCache and the gateway release
   * on failure). `measured`: for a caller whose failures nobody reports (LangChain's plain
   * BaseCache path): never for a lookup of the same batch, never before this model's misses have
   * been measured, and never longer than the slowest of them. `never`: not at all (a repeat of
   * a key earlier in the caller's own batch).
   */
  wait?: 'lease' | 'measured' | 'never';
  /** Opens what sealed tiers hold, instead of the config's key set (the gateway's per-tenant keys). */
  sealer?: Sealer;
  /**
   * The caller only reads the hit's entry: it may be the engine's own decoded answer, frozen and
   * shared by every such caller, instead of a copy of its own (core/decoded.ts). For an edge
   * that builds fresh objects from it at once (langchain/generations.ts copies what LangChain's
   * messages keep) or only serializes it (the gateway). Default false.
   */
  shared?: boolean;
}

export interface WriteOptions extends Pick<CacheDirectives, 'tags' | 'metadata'> {
  /** Lifetime of the entry; null = never expire. */
  ttlMs?: number | null;
  /** Kept this long past its lifetime for stale-if-error (stale.ts); unset: the config's grace. */
  staleMs?: number;
  /**
   * Store the prompt whole only up to this many characters; a longer one as its SHA-256 and an
   * excerpt (entry.ts `newEntry`). Unset: whole, whatever its length (the library's prompts are
   * the application's own; the gateway's are whatever a client sends).
   */
  maxPromptChars?: number;
  /** Seals what sealed tiers are handed, instead of the config's key set (the gateway's per-tenant keys). */
  sealer?: Sealer;
}

/** The engine's write options for these directives; a TTL left unset is the config's default. */
export function writeOptionsOf(directives: CacheDirectives, defaultTtlSeconds: number | null): WriteOptions {
  const ttlSeconds = directives.ttlSeconds === undefined ? defaultTtlSeconds : directives.ttlSeconds;
  const write: WriteOptions = { ttlMs: ttlSeconds === null ? null : ttlSeconds * 1000 };
  if (directives.staleIfErrorSeconds !== undefined) write.staleMs = directives.staleIfErrorSeconds * 1000;
  if (directives.tags) write.tags = directives.tags;
  if (directives.metadata) write.metadata = directives.metadata;
  return write;
}
