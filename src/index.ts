export { createCache, type CreateOptions } from './create.js';
export { loadConfig, loadConfigWithSource, defaultConfig } from './config/load.js';
export {
  parseConfig,
  StrataConfigError,
  type StrataConfig,
  type ResolvedConfig,
  type TierConfig,
} from './config/schema.js';
export { StrataCache, type StoreOptions, type ClearOptions, type LookupResult } from './langchain/cache.js';
export type { CacheKey } from './core/key.js';
export { deriveKey, sanitizeLlmKey } from './core/key.js';
export type { Tier, TierStats, TierHealth, ListedEntry } from './core/tier.js';
export type { StoredEntry, Entry } from './core/entry.js';
export type { StatsReport, HealthReport, TierReport, CacheEvents, Logger } from './core/manager.js';
export { type Clock, ManualClock } from './core/clock.js';
