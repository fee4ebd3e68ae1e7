/**
 * `strata-cache/engine`: the engine and the tools around it (gateway, monitor), with no LangChain
 * import anywhere below, for applications and gateways that do not use LangChain (the package
 * root also exports the LangChain adapter, and so loads LangChain itself).
 */
export { defaultConfig, loadConfig, loadConfigWithSource } from '../config/load.js';
export { parseConfig, type ResolvedConfig, type StrataConfig, type TierConfig } from '../config/schema.js';
export { type Clock, ManualClock } from '../core/clock.js';
export type { CacheDirectives, CacheMode } from '../core/directives.js';
export type { Entry, StoredEntry, StoredGenerationData } from '../core/entry.js';
export type { CacheEvents, Hit, Logger } from '../core/events.js';
export { type CacheKey, deriveKey, sanitizeLlmKey } from '../core/key.js';
export type { LookupOptions, WriteOptions } from '../core/options.js';
export type { HealthReport, StatsReport, TierReport } from '../core/reports.js';
export type { ListedEntry, Tier, TierHealth, TierStats } from '../core/tier.js';
export * from '../errors.js';
export { createMonitor, type Monitor } from '../monitor/index.js';
export { startServer } from '../monitor/server.js';
export type { ProxyOptions, StrataProxy } from '../proxy/index.js';
export { defineTier, type TierDefinition, tierFields } from '../tiers/kit/definition.js';
export { type CreateOptions, createStrata } from './create.js';
export { type RekeyOptions, type RekeyReport, type RekeyTierReport, rekey } from './rekey.js';
export type { Strata, StrataSource } from './strata.js';

/** The caching gateway (README, "Gateway"), loaded on first use: the HTTP client it runs on loads with it. */
export async function createProxy(
  config: import('../config/schema.js').StrataConfig,
  options?: import('../proxy/index.js').ProxyOptions,
): Promise<import('../proxy/index.js').StrataProxy> {
  const { createProxy: create } = await import('../proxy/index.js');
  return create(config, options);
}
