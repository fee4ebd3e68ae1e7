/**
 * Reports on the cache: statistics (counters, latencies, what each tier holds), health (each
 * tier's status and breaker) and the inspection of one key. Built from the manager's counters and
 * its guarded tiers; nothing here changes state.
 */

import type { BreakerState } from './breaker.js';
import type { Clock } from './clock.js';
import type { AtRest } from './encryption/at-rest.js';
import type { Sealer } from './encryption/keyring.js';
import { decodeEntry, type Entry, isExpired } from './entry.js';
import { errorOf } from './error-of.js';
import type { GuardedTier } from './guarded-tier.js';
import type { CacheKey } from './key.js';
import { keptStale } from './stale.js';
import type { CacheCounters, CumulativeLatency, LatencySummary, TierCounters } from './stats.js';
import {
  type DailyStats,
  type EntryRef,
  isPromiseLike,
  type ListedEntry,
  type SearchResult,
  type TierHealth,
  type TierStats,
  type TierStatus,
} from './tier.js';

export interface TierReport {
  name: string;
  type: string;
  breaker: BreakerState;
  hits: number;
  misses: number;
  sets: number;
  refused: number;
  errors: number;
  timeouts: number;
  corrupt: number;
  backfills: number;
  evictions: number;
  skipped: number;
  get: LatencySummary;
  set: LatencySummary;
  /** Cosine similarity of hits served by a similarity tier. */
  similarity?: { count: number; mean: number; min: number };
  store?: TierStats;
}

export interface StatsReport {
  lookups: number;
  hits: number;
  misses: number;
  hitRate: number;
  updates: number;
  /** Updates not stored because no lookup could use their generations. */
  unstorable: number;
  coalesced: number;
  /** Lookups not made (and answers not stored) because the llmKey did not establish the model. */
  unidentified: number;
  /** Expired answers served because the model call failed (stale-if-error); their lookups were misses. */
  stale: number;
  inFlight: number;
  lookup: LatencySummary;
  tiers: TierReport[];
}

export interface HealthReport {
  status: TierStatus;
  tiers: Array<{ name: string; type: string; status: TierStatus; breaker: BreakerState; reason?: string }>;
}

export interface LatencyHistograms {
  lookup: CumulativeLatency;
  tiers: Array<{ name: string; type: string; get: CumulativeLatency; set: CumulativeLatency }>;
}

/** Every process's counters, kept by one shared tier (TierQueries.fleetStore). */
export interface FleetStore {
  tier: string;
  publish(process: string, snapshot: string, at: number): Promise<void>;
  /** Rows reported since `since`; undefined when the tier could not be read. */
  read(since: number): Promise<string[] | undefined>;
}

export interface KeyInspection {
  tier: string;
  entry?: Entry;
  state: string;
  /** Why the tier could not be read (then it says nothing about whether it holds the key). */
  failure?: string;
}

export function statsReport(
  totals: CacheCounters,
  managed: readonly GuardedTier[],
  stores: ReadonlyArray<TierStats | undefined>,
  inFlight: number,
): StatsReport {
  const c = totals;
  const answered = c.hits + c.misses;
  return {
    lookups: c.lookups,
    hits: c.hits,
    misses: c.misses,
    hitRate: answered === 0 ? 0 : c.hits / answered,
    updates: c.updates,
    unstorable: c.unstorable,
    coalesced: c.coalesced,
    unidentified: c.unidentified,
    stale: c.stale,
    inFlight,
    lookup: c.lookupLatency.summary(),
    tiers: managed.map((m, i) => {
      const t = m.counters;
      const report: TierReport = {
        name: m.name,
        type: m.tier.type,
        breaker: m.breaker.current,
        hits: t.hits,
        misses: t.misses,
        sets: t.sets,
        refused: t.refused,
        errors: t.errors,
        timeouts: t.timeouts,
        corrupt: t.corrupt,
        backfills: t.backfills,
        evictions: t.evictions,
        skipped: t.skipped,
        get: t.getLatency.summary(),
        set: t.setLatency.summary(),
      };
      const similarity = t.similarity.summary();
      if (similarity) report.similarity = similarity;
      const store = stores[i];
      if (store) report.store = store;
      return report;
    }),
  };
}

export function latencyHistograms(
  totals: CacheCounters,
  managed: readonly GuardedTier[],
  boundsMs: readonly number[],
): LatencyHistograms {
  return {
    lookup: totals.lookupLatency.cumulative(boundsMs),
    tiers: managed.map((m) => ({
      name: m.name,
      type: m.tier.type,
      get: m.counters.getLatency.cumulative(boundsMs),
      set: m.counters.setLatency.cumulative(boundsMs),
    })),
  };
}

/** Each tier's own health, degraded while its breaker is open; overall: up, degraded or down. */
export async function healthReport(managed: readonly GuardedTier[]): Promise<HealthReport> {
  const tiers = await Promise.all(
    managed.map(async (m) => {
      const breaker = m.breaker.current;
      let health: TierHealth;
      try {
        const result = m.tier.health();
        health = isPromiseLike(result) ? await m.bounded('health', result) : result;
      } catch (error) {
        health = { status: 'down', reason: errorOf(error).message };
      }
      if (breaker === 'open' && health.status === 'up') {
        health = { status: 'degraded', reason: `breaker open after: ${m.breaker.lastError ?? 'failures'}` };
      }
      return {
        name: m.name,
        type: m.tier.type,
        status: health.status,
        breaker,
        ...(health.reason ? { reason: health.reason } : {}),
      };
    }),
  );
  const up = tiers.filter((t) => t.status === 'up').length;
  const status: TierStatus =
    up === tiers.length ? 'up' : tiers.every((t) => t.status === 'down') ? 'down' : 'degraded';
  return { status, tiers };
}

/** What each tier holds for one key (`strata inspect`), without backfilling or counting a lookup. */
export function inspectKey(
  managed: readonly GuardedTier[],
  key: CacheKey,
  now: number,
  atRest?: AtRest,
): Promise<KeyInspection[]> {
  return Promise.all(
    managed.map(async (m): Promise<KeyInspection> => {
      try {
        const result = m.tier.get(key);
        const read = isPromiseLike(result) ? await m.bounded('get', result) : result;
        if (read == null) return { tier: m.name, state: 'absent' };
        const owner = typeof read === 'string' ? key.hash : read.hash;
        const held = typeof read === 'string' ? read : read.payload;
        const plain = atRest ? atRest.open(held, key.namespace, owner, m.sealed) : held;
        if (plain === undefined) return { tier: m.name, state: 'corrupt (does not open with these keys)' };
        const entry = decodeEntry(plain);
        if (!entry || entry.k !== owner || entry.ns !== key.namespace)
          return { tier: m.name, state: 'corrupt' };
        if (typeof read !== 'string') {
          return {
            tier: m.name,
            entry,
            state: `similar (${read.similarity?.toFixed(3) ?? 'similarity not reported'}): ${read.matchedPrompt}`,
          };
        }
        if (!isExpired(entry, now)) return { tier: m.name, entry, state: 'live' };
        // Kept past its TTL for stale-if-error (stale.ts): answers only a call whose model failed.
        const state = keptStale(entry, now)
          ? `expired, kept for stale-if-error until ${new Date(entry.staleUntil!).toISOString()}`
          : 'expired';
        return { tier: m.name, entry, state };
      } catch (error) {
        const failure = errorOf(error).message;
        return { tier: m.name, state: `error: ${failure}`, failure };
      }
    }),
  );
}

/** A tier's listing; once it has ended, `failure` says why it ended early (undefined: it listed everything). */
export interface Listing extends AsyncIterable<ListedEntry> {
  readonly failure: string | undefined;
}

/**
 * The tier's listing under its policy (each step bounded by `timeoutMs`, a failure counted and
 * logged once): as GuardedTier.entries, but a failure is kept for the caller, who must not take
 * an ended listing for a complete one (a damaged SQLite file lists what it can, then fails).
 */
function listing(m: GuardedTier, namespace: string | undefined, atRest: AtRest | undefined): Listing {
  const result = {
    failure: undefined as string | undefined,
    async *[Symbol.asyncIterator](): AsyncGenerator<ListedEntry> {
      const fail = (error: unknown) => {
        m.failed('entries', error);
        result.failure = errorOf(error).message;
      };
      let iterator: AsyncIterator<ListedEntry>;
      try {
        iterator = m.tier.entries(namespace)[Symbol.asyncIterator]();
      } catch (error) {
        fail(error);
        return;
      }
      for (;;) {
        let step: IteratorResult<ListedEntry>;
        try {
          step = await m.bounded('entries', iterator.next());
        } catch (error) {
          fail(error);
          // Not awaited: a tier that hangs must not hang the listing's end too.
          iterator.return?.().catch(() => {});
          return;
        }
        if (step.done) return;
        if (!atRest) {
          yield step.value;
          continue;
        }
        // Opened (encryption/at-rest.ts); one that does not open is listed with an empty
        // payload, which decodes to nothing: a corrupt entry to whoever reads the listing.
        const { namespace: ns, hash, payload } = step.value;
        yield { ...step.value, payload: atRest.open(payload, ns, hash, m.sealed) ?? '' };
      }
    },
  };
  return result;
}

/**
 * What the CLI and the fleet reporter read from the tiers, through their guarded tiers: each call
 * bounded by the tier's timeout and counted, a failing tier answering nothing.
 */
export class TierQueries {
  constructor(
    private readonly managed: readonly GuardedTier[],
    private readonly totals: Readonly<CacheCounters>,
    private readonly clock: Clock,
    private readonly atRest?: AtRest,
  ) {}

  /**
   * The config's key set when encryption is on (undefined when off): `strata export` seals its
   * lines with it and `strata import` opens them.
   */
  get sealer(): Sealer | undefined {
    return this.atRest?.sealer;
  }

  /**
   * Names of the tiers that can `search` prompts, keep `daily` statistics, live in this process
   * (`local`), rewrite a payload in place (`replacePayload`, what `strata rekey` needs), or
   * match by similarity (`similarity`: exact keys, embedding vectors, never reach them).
   */
  able(capability: 'search' | 'daily' | 'local' | 'replacePayload' | 'similarity'): string[] {
    return this.managed
      .filter((m) => (capability === 'similarity' ? m.similarity : m.tier[capability]))
      .map((m) => m.name);
  }

  /** Full-text search over cached prompts, in the tiers that index them (`strata search`); undefined results: that tier failed. */
  search(text: string, limit: number): Promise<Array<{ tier: string; results: SearchResult[] | undefined }>> {
    const able = this.managed.filter((m) => m.tier.search);
    const each = (m: GuardedTier) => m.run('search', (t) => t.search!(text, limit));
    return Promise.all(able.map(async (m) => ({ tier: m.name, results: await each(m) })));
  }

  /** Daily statistics, from the tiers that persist them (`strata stats --days`). */
  async daily(days: number): Promise<DailyStats[]> {
    const each = await Promise.all(this.managed.map((m) => m.run('daily', (t) => t.daily?.(days) ?? [])));
    return each.flatMap((d) => d ?? []);
  }

  /**
   * One tier's live entries (export, inspect), each step under its timeout; undefined: no such
   * tier. A failure ends the listing (what was listed stands) and is kept in its `failure`.
   */
  entries(tier: string, namespace?: string): Listing | undefined {
    const m = this.managed.find((x) => x.name === tier);
    return m && listing(m, namespace, this.atRest);
  }

  /**
   * For `strata rekey`: the tiers handed sealed payloads under encryption (every one but the
   * volatile ones), and one tier's listing with its payloads as stored, not opened.
   */
  sealedTiers(): string[] {
    return this.managed.filter((m) => m.sealed).map((m) => m.name);
  }

  storedEntries(tier: string): Listing | undefined {
    const m = this.managed.find((x) => x.name === tier);
    return m && listing(m, undefined, undefined);
  }

  /**
   * Compare-and-set of one entry's payload in one tier (`strata rekey`, Tier.replacePayload), under
   * the tier's timeout and counters: whether it was replaced (false: the entry changed or went
   * meanwhile), or why the tier could not.
   */
  async replacePayload(
    tier: string,
    entry: EntryRef,
    expected: string,
    payload: string,
    sealer?: Sealer,
  ): Promise<{ ok: true; replaced: boolean } | { ok: false; reason: string }> {
    const m = this.managed.find((x) => x.name === tier);
    if (!m?.tier.replacePayload)
      return { ok: false, reason: `tier ${tier} cannot replace a payload in place` };
    try {
      const result = sealer
        ? m.tier.replacePayload(entry, expected, payload, { sealer })
        : m.tier.replacePayload(entry, expected, payload);
      const replaced = isPromiseLike(result) ? await m.bounded('replacePayload', result) : result;
      m.succeeded();
      return { ok: true, replaced };
    } catch (error) {
      m.failed('replacePayload', error);
      return { ok: false, reason: errorOf(error).message };
    }
  }

  /** What each tier holds for one key, without backfilling or counting a lookup. */
  inspect(key: CacheKey): Promise<KeyInspection[]> {
    return inspectKey(this.managed, key, this.clock.now(), this.atRest);
  }

  /**
   * The tier that keeps every process's counters (core/fleet.ts): the first that can, reached
   * under its policy (a failure is counted, logged once, and answers undefined).
   */
  fleetStore(): FleetStore | undefined {
    const m = this.managed.find((x) => x.tier.counters);
    if (!m) return undefined;
    return {
      tier: m.name,
      publish: async (process, snapshot, at) => {
        await m.run('fleet report', (t) => t.counters!.publish(process, snapshot, at));
      },
      read: (since) => m.run('fleet read', (t) => t.counters!.read(since)),
    };
  }

  /**
   * One tier's own stats, under its policy (undefined: no such tier, or it failed): the fleet
   * reporter reads its similarity tiers' refusals and error bound this way, not every tier's.
   */
  async tierStats(tier: string): Promise<TierStats | undefined> {
    const m = this.managed.find((x) => x.name === tier);
    return m && (await m.run('stats', (t) => t.stats()));
  }

  /** The live counters, for the fleet reporter to snapshot (read only). */
  counters(): {
    cache: Readonly<CacheCounters>;
    tiers: Array<{ name: string; type: string; counters: Readonly<TierCounters> }>;
  } {
    return {
      cache: this.totals,
      tiers: this.managed.map((m) => ({ name: m.name, type: m.tier.type, counters: m.counters })),
    };
  }
}
