/**
 * A memory tier that takes labels (markBad, markGood) and reports what a semantic tier with
 * `maxErrorRate` reports in `stats().bound`: for the surfaces around such a tier (manager, engine,
 * LangChain, gateway, metrics, dashboard), tested without the learner itself.
 */
import type { CacheKey } from '../../src/core/key.js';
import type { NamespaceBound, TierStats } from '../../src/core/tier.js';
import { MemoryTier } from '../../src/tiers/memory/index.js';

export class LabelledTier extends MemoryTier {
  /** Every label received, in order, with the key as this tier was told it. */
  readonly labels: Array<{ label: 'bad' | 'good'; key: CacheKey }> = [];
  /** What `stats().bound` reports; undefined: no `bound` field. */
  bound: Record<string, NamespaceBound> | undefined;

  constructor(name = 'labelled', bound?: Record<string, NamespaceBound>) {
    super({ name, maxEntries: 1_000, maxBytes: 1e7, clock: { now: () => Date.now() } });
    this.bound = bound;
  }

  markBad(key: CacheKey): boolean {
    this.labels.push({ label: 'bad', key });
    return true;
  }

  markGood(key: CacheKey): boolean {
    this.labels.push({ label: 'good', key });
    return true;
  }

  override stats(): TierStats {
    const stats = super.stats();
    return this.bound ? { ...stats, bound: this.bound } : stats;
  }
}

/** A namespace's bound as the semantic tier reports it, with `over` replacing any field. */
export function namespaceBound(over: Partial<NamespaceBound> = {}): NamespaceBound {
  return {
    maxErrorRate: 0.01,
    errorRate: 0.004,
    errorLow: 0.001,
    errorHigh: 0.009,
    lookups: 1_000,
    hits: 400,
    labels: { free: 300, exploration: 20, feedback: 5, background: 0 },
    explorations: 20,
    explorationBudget: 0.02,
    cutoff: 0.87,
    ...over,
  };
}
