/**
 * What a request asks of the cache: the HTTP `Cache-Control` request directives, and LiteLLM's
 * body field `cache: { ttl, s-maxage, no-cache, no-store, namespace }` (taken out of the body
 * before it is forwarded, since upstreams reject unknown fields). Of the per-call directives
 * (core/directives.ts) a request can say the age it accepts, the lifetime of what it stores and
 * a namespace; HTTP's own flags stand for the modes, since a request may combine them.
 * `Cache-Control: stale-if-error=N` (RFC 5861, as a request directive) is the call's
 * `staleIfErrorSeconds` (core/stale.ts).
 */
import { MAX_TTL_SECONDS } from '../config/fields.js';
import type { CacheDirectives } from '../core/directives.js';
import { RequestError } from '../errors.js';
import { isObject } from './endpoints/endpoint.js';

export interface Controls
  extends Pick<CacheDirectives, 'maxAgeSeconds' | 'namespace' | 'staleIfErrorSeconds'> {
  /** Do not answer from the cache (the answer is still stored, refreshing the entry). */
  noCache: boolean;
  /** Do not store the answer. */
  noStore: boolean;
  /** Answer only from the cache: a miss is a 504, and the upstream is never called. */
  onlyIfCached: boolean;
  /** Lifetime of the entry this request stores (never null: a request cannot ask for no expiry). */
  ttlSeconds?: number;
}

const BODY_FIELDS = new Set(['ttl', 's-maxage', 'no-cache', 'no-store', 'namespace']);

export function controlsOf(cacheControl: string | undefined, bodyCache: unknown): Controls {
  const controls: Controls = { noCache: false, noStore: false, onlyIfCached: false };
  for (const directive of (cacheControl ?? '').split(',')) {
    const [rawName = '', rawValue] = directive.split('=', 2);
    const name = rawName.trim().toLowerCase();
    if (name === 'no-cache') controls.noCache = true;
    else if (name === 'no-store') controls.noStore = true;
    else if (name === 'only-if-cached') controls.onlyIfCached = true;
    else if (name === 'max-age' || name === 's-maxage') {
      const seconds = Number(rawValue?.trim().replace(/^"|"$/g, ''));
      if (!Number.isInteger(seconds) || seconds < 0)
        throw new RequestError(
          `Cache-Control: ${name} must be a whole number of seconds`,
          'STRATA_REQUEST_CACHE_CONTROL',
        );
      controls.maxAgeSeconds = Math.min(controls.maxAgeSeconds ?? seconds, seconds);
    } else if (name === 'stale-if-error') {
      const seconds = Number(rawValue?.trim().replace(/^"|"$/g, ''));
      if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_TTL_SECONDS)
        throw new RequestError(
          `Cache-Control: stale-if-error must be a whole number of seconds up to ${MAX_TTL_SECONDS}`,
          'STRATA_REQUEST_CACHE_CONTROL',
        );
      controls.staleIfErrorSeconds = Math.min(controls.staleIfErrorSeconds ?? seconds, seconds);
    }
  }
  if (bodyCache === undefined) return controls;
  if (!isObject(bodyCache)) throw new RequestError('cache: must be an object', 'STRATA_REQUEST_CACHE_FIELD');
  for (const field of Object.keys(bodyCache))
    if (!BODY_FIELDS.has(field))
      throw new RequestError(
        `cache.${field}: unknown field (expected one of: ${[...BODY_FIELDS].join(', ')})`,
        'STRATA_REQUEST_CACHE_FIELD',
      );
  const flag = (field: string) => {
    const value = bodyCache[field];
    if (value !== undefined && typeof value !== 'boolean')
      throw new RequestError(`cache.${field}: must be a boolean`, 'STRATA_REQUEST_CACHE_FIELD');
    return value === true;
  };
  if (flag('no-cache')) controls.noCache = true;
  if (flag('no-store')) controls.noStore = true;
  const ttl = bodyCache.ttl;
  if (ttl !== undefined) {
    if (typeof ttl !== 'number' || !(ttl > 0 && ttl <= MAX_TTL_SECONDS))
      throw new RequestError(
        `cache.ttl: must be a positive number of seconds up to ${MAX_TTL_SECONDS}`,
        'STRATA_REQUEST_CACHE_FIELD',
      );
    controls.ttlSeconds = ttl;
  }
  const maxAge = bodyCache['s-maxage'];
  if (maxAge !== undefined) {
    if (typeof maxAge !== 'number' || !(maxAge >= 0))
      throw new RequestError('cache.s-maxage: must be a number of seconds ≥ 0', 'STRATA_REQUEST_CACHE_FIELD');
    controls.maxAgeSeconds = Math.min(controls.maxAgeSeconds ?? maxAge, maxAge);
  }
  const namespace = bodyCache.namespace;
  if (namespace !== undefined) {
    if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 128)
      throw new RequestError(
        'cache.namespace: must be a string of 1-128 characters',
        'STRATA_REQUEST_CACHE_FIELD',
      );
    controls.namespace = namespace;
  }
  return controls;
}
