/** Config type -> driver. The only file that knows every tier. */
import type { ResolvedTierConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { EvictionListener, Tier } from '../core/tier.js';
import { MemoryTier } from './memory/index.js';
import { SqliteTier } from './sqlite/index.js';

export interface TierContext {
  clock: Clock;
  onEviction: EvictionListener;
}

export function buildTier(config: ResolvedTierConfig, ctx: TierContext): Tier {
  const name = config.name ?? config.type;
  switch (config.type) {
    case 'memory':
      return new MemoryTier({ name, maxEntries: config.maxEntries, maxBytes: config.maxBytes, ...ctx });
    case 'sqlite':
      return new SqliteTier({
        name,
        path: config.path,
        maxEntries: config.maxEntries,
        maxBytes: config.maxBytes,
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        busyTimeoutMs: config.busyTimeoutMs,
        ...ctx,
      });
  }
}
