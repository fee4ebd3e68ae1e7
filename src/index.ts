export { defaultConfig, loadConfig, loadConfigWithSource } from './config/load.js';
export { parseConfig, type ResolvedConfig, type StrataConfig, type TierConfig } from './config/schema.js';
export { type Clock, ManualClock } from './core/clock.js';
export type { CacheDirectives } from './core/directives.js';
export type { Sealer } from './core/encryption/keyring.js';
export type { Entry, StoredEntry } from './core/entry.js';
export type { CacheEvents, Logger } from './core/events.js';
export type { CacheKey } from './core/key.js';
export { deriveKey, sanitizeLlmKey } from './core/key.js';
export { modelOf } from './core/model-of.js';
export type { HealthReport, StatsReport, TierReport } from './core/reports.js';
export type { ListedEntry, Tier, TierCall, TierHealth, TierStats } from './core/tier.js';
export { type CreateOptions, createStrata } from './engine/create.js';
export { createProxy } from './engine/index.js';
export type { Strata } from './engine/strata.js';
export * from './errors.js';
export { type ClearOptions, type LookupResult, type StoreOptions, StrataCache } from './langchain/cache.js';
export { CachedLLM } from './langchain/cached-llm.js';
export { createCache } from './langchain/create.js';
export {
  createEmbeddingStore,
  type EmbeddingStoreOptions,
  StrataEmbeddingStore,
} from './langchain/embedding-store.js';
export {
  type CacheControl,
  CachedChatModel,
  type CacheMode,
  type StrataHitInfo,
  type WithCacheOptions,
  withCache,
} from './langchain/with-cache.js';
export type { Alert, AlertRule } from './monitor/alerts.js';
export { createMonitor, type Monitor, type SeriesPoint } from './monitor/index.js';
export type { PriceTable } from './monitor/savings.js';
export { startServer } from './monitor/server.js';
export type { ProxyConfig } from './proxy/config.js';
export type { ProxyOptions, StrataProxy } from './proxy/index.js';
export { defineTier, type TierDefinition, tierFields } from './tiers/kit/definition.js';
