/** Cache modes, shared by withCache (per call) and StrataCache views (per model instance). */
export const CACHE_MODES = ['default', 'no-cache', 'no-store', 'only-if-cached', 'refresh'] as const;

/**
 * default: look up, store a miss's answer. no-cache / refresh: skip the lookup, store (replace).
 * no-store: look up, never store. only-if-cached: a miss throws CacheMissError, nothing is stored.
 */
export type CacheMode = (typeof CACHE_MODES)[number];

export function assertMode(mode: unknown, field: string): asserts mode is CacheMode | undefined {
  if (mode !== undefined && !CACHE_MODES.includes(mode as CacheMode)) {
    throw new TypeError(`${field}: expected one of ${CACHE_MODES.join(', ')} (got ${JSON.stringify(mode)})`);
  }
}
