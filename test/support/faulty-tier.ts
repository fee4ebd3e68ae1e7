/**
 * Fault injection around a real tier: makes calls fail or hang on demand. Only for faults a
 * test cannot cause for real in-process; backend tiers are tested against real servers.
 */
import type { StoredEntry } from '../../src/core/entry.js';
import type { CacheKey } from '../../src/core/key.js';
import type { ListedEntry, SimilarMatch, Tier, TierHealth, TierStats } from '../../src/core/tier.js';

export type Fault = 'none' | 'throw' | 'hang' | 'slow';

export class FaultyTier implements Tier {
  readonly type: string;
  fault: Fault = 'none';
  slowMs = 50;
  calls = 0;

  constructor(
    private readonly inner: Tier,
    readonly name = `faulty-${inner.name}`,
  ) {
    this.type = inner.type;
  }

  private async run<T>(fn: () => T | Promise<T>): Promise<T> {
    this.calls++;
    if (this.fault === 'throw') throw new Error('injected failure: connection refused');
    if (this.fault === 'hang') await new Promise(() => {});
    if (this.fault === 'slow') await new Promise((r) => setTimeout(r, this.slowMs));
    return fn();
  }

  get(key: CacheKey): Promise<string | SimilarMatch | null | undefined> {
    return this.run(() => this.inner.get(key));
  }
  set(key: CacheKey, entry: StoredEntry): Promise<boolean> {
    return this.run(() => this.inner.set(key, entry));
  }
  delete(key: CacheKey): Promise<boolean> {
    return this.run(() => this.inner.delete(key));
  }
  clear(namespace?: string): Promise<number> {
    return this.run(() => this.inner.clear(namespace));
  }
  invalidateTag(tag: string, namespace?: string): Promise<number> {
    return this.run(() => this.inner.invalidateTag(tag, namespace));
  }
  purgeExpired(): Promise<number> {
    return this.run(() => this.inner.purgeExpired());
  }
  entries(namespace?: string): AsyncIterable<ListedEntry> {
    return this.inner.entries(namespace);
  }
  stats(): Promise<TierStats> {
    return this.run(() => this.inner.stats());
  }
  async health(): Promise<TierHealth> {
    if (this.fault !== 'none') return { status: 'down', reason: `injected ${this.fault}` };
    return this.inner.health();
  }
  close(): Promise<void> {
    this.fault = 'none';
    return this.run(() => this.inner.close());
  }
}
