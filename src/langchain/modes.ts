/** Cache modes (core/directives.ts), as withCache (per call) and StrataCache views (per model instance) accept them. */
import { CACHE_MODES, type CacheMode } from '../core/directives.js';
import { StrataConfigError } from '../errors.js';

export type { CacheMode } from '../core/directives.js';

export function assertMode(mode: unknown, field: string): asserts mode is CacheMode | undefined {
  if (mode !== undefined && !CACHE_MODES.includes(mode as CacheMode)) {
    throw new StrataConfigError([
      { path: field, message: `expected one of ${CACHE_MODES.join(', ')} (got ${JSON.stringify(mode)})` },
    ]);
  }
}
