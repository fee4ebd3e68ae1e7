/**
 * What one call asks of the cache, whatever the edge it came through: a LangChain view's options
 * (langchain/view-options.ts), withCache's per-call control (langchain/request-cache.ts) and the
 * gateway's Cache-Control header and `cache` body field (proxy/controls.ts) each translate their
 * own input into these fields; the engine is then told what to do in its own terms
 * (core/options.ts: LookupOptions, WriteOptions; writeOptionsOf there for the writes).
 */

/** The cache modes, as LangChain views and withCache name them. */
export const CACHE_MODES = ['default', 'no-cache', 'no-store', 'only-if-cached', 'refresh'] as const;

/**
 * default: look up, store a miss's answer. no-cache / refresh: skip the lookup, store (replace).
 * no-store: look up, never store. only-if-cached: a miss is an error, nothing is stored.
 */
export type CacheMode = (typeof CACHE_MODES)[number];

export interface CacheDirectives {
  /** How the lookup and the store of this call behave (see CacheMode). */
  mode?: CacheMode;
  /** Lifetime of the entry this call stores; null = never expire; unset: the config's default. */
  ttlSeconds?: number | null;
  /** Tags attached to the entry this call stores, for invalidateTag(). */
  tags?: readonly string[];
  /** Free-form JSON metadata stored with the entry. */
  metadata?: Record<string, unknown>;
  /** A namespace for this call, instead of the caller's own. */
  namespace?: string;
  /** Accept a cached answer only up to this age. */
  maxAgeSeconds?: number;
  /**
   * Stale-if-error (core/stale.ts): how long past its TTL the entry this call stores is kept, and
   * how far past its TTL an answer may be to answer this call when the model fails (never more
   * than the entry was kept for); 0: no stale answer. Unset: the config's `staleIfErrorSeconds`.
   */
  staleIfErrorSeconds?: number;
  /**
   * For a semantic tier, the question of this call: its text, or a function of the text the
   * edge gives it that returns the question (undefined: no similarity matching).
   */
  semanticQuery?: string | ((text: string) => string | undefined);
}

/** Whether a call in this mode looks the key up at all. */
export function looksUp(mode: CacheMode | undefined): boolean {
  return mode !== 'no-cache' && mode !== 'refresh';
}

/** Whether a call in this mode stores what it computes (and so may make others wait for it). */
export function stores(mode: CacheMode | undefined): boolean {
  return mode !== 'no-store' && mode !== 'only-if-cached';
}
