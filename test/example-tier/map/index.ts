import type {
  CacheKey,
  Clock,
  ListedEntry,
  StoredEntry,
  Tier,
  TierHealth,
  TierStats,
} from '../../../src/index.js';

/** A tier kept in a Map: every method a driver needs, and nothing else. */
export class MapTier implements Tier {
  readonly type = 'map';
  private readonly rows = new Map<string, { namespace: string; entry: StoredEntry }>();

  constructor(
    readonly name: string,
    private readonly clock: Clock = { now: () => Date.now() },
  ) {}

  get(key: CacheKey): string | undefined {
    const row = this.rows.get(key.hash);
    if (!row || this.expired(row.entry)) return undefined;
    return row.entry.payload; // the manager decodes it and checks it belongs to this key
  }

  set(key: CacheKey, entry: StoredEntry): boolean {
    this.rows.set(key.hash, { namespace: key.namespace, entry });
    return true;
  }

  delete(key: CacheKey): boolean {
    return this.rows.delete(key.hash);
  }

  clear(namespace?: string): number {
    return this.removeWhere((row) => namespace === undefined || row.namespace === namespace);
  }

  invalidateTag(tag: string, namespace?: string): number {
    return this.removeWhere(
      (row) => row.entry.tags.includes(tag) && (namespace === undefined || row.namespace === namespace),
    );
  }

  purgeExpired(): number {
    return this.removeWhere((row) => this.expired(row.entry));
  }

  async *entries(namespace?: string): AsyncIterable<ListedEntry> {
    for (const [hash, row] of this.rows) {
      if (namespace === undefined || row.namespace === namespace) {
        yield { namespace: row.namespace, hash, payload: row.entry.payload };
      }
    }
  }

  stats(): TierStats {
    let bytes = 0;
    for (const row of this.rows.values()) bytes += row.entry.size;
    return { entries: this.rows.size, bytes };
  }

  health(): TierHealth {
    return { status: 'up' };
  }

  close(): void {
    this.rows.clear();
  }

  private expired(entry: StoredEntry): boolean {
    return entry.expiresAt !== null && entry.expiresAt <= this.clock.now();
  }

  private removeWhere(test: (row: { namespace: string; entry: StoredEntry }) => boolean): number {
    let removed = 0;
    for (const [hash, row] of this.rows) {
      if (test(row)) removed += Number(this.rows.delete(hash));
    }
    return removed;
  }
}
