/** createCache: LangChain's cache over an engine, opened from a config here or given (`createStrata`). */
import type { ResolvedConfig, StrataConfig } from '../config/schema.js';
import { type CreateOptions, createStrata } from '../engine/create.js';
import type { Strata } from '../engine/strata.js';
import type { TierDefinition } from '../tiers/kit/definition.js';
import { StrataCache } from './cache.js';

/**
 * A config opens a new engine, which the cache then owns (`cache.close()` closes it); an engine
 * already open is shared: the gateway, the monitor and any number of caches may sit on it, and
 * it stays open until whoever opened it closes it (a view's close() leaves it be).
 */
export async function createCache<const Extra extends TierDefinition = never>(
  config: StrataConfig<NoInfer<Extra>> | ResolvedConfig | Strata,
  options: CreateOptions<Extra> = {},
): Promise<StrataCache> {
  const strata = isStrata(config) ? config : await createStrata(config, options);
  return new StrataCache(strata, {
    namespace: strata.namespace,
    store: {},
    defaultTtlSeconds: strata.defaultTtlSeconds,
    logger: options.logger ?? strata.logger,
    ownsEngine: strata !== config,
  });
}

/** An engine, told from a config: a config has no lookup function. */
function isStrata<Extra extends TierDefinition>(
  x: StrataConfig<Extra> | ResolvedConfig | Strata,
): x is Strata {
  return typeof (x as Partial<Strata>).lookup === 'function';
}
