/**
 * What every StrataCache view passes straight to the engine underneath: statistics, health
 * and events. The mapping of LangChain's calls is cache.ts.
 */
import { BaseCache } from '@langchain/core/caches';
import type { Generation } from '@langchain/core/outputs';
import type { CacheEvents } from '../core/events.js';
import type { HealthReport, StatsReport } from '../core/reports.js';
import type { Strata } from '../engine/strata.js';

export abstract class EngineView extends BaseCache<Generation[]> {
  constructor(
    /**
     * The engine underneath (tiers, stats, events), shared by every view of this cache: for tools
     * that work below LangChain (`createMonitor(cache.strata)`, `createCache(cache.strata)`).
     */
    readonly strata: Strata,
  ) {
    super();
  }

  stats(): Promise<StatsReport> {
    return this.strata.stats();
  }

  health(): Promise<HealthReport> {
    return this.strata.health();
  }

  on<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this {
    this.strata.events.on(event, listener as never);
    return this;
  }

  off<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this {
    this.strata.events.off(event, listener as never);
    return this;
  }

  once<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this {
    this.strata.events.once(event, listener as never);
    return this;
  }
}
