/**
 * The manager: the lookup waterfall, acceptance of what a tier read, backfill of faster tiers,
 * write-through, maintenance across tiers, and close. Beside it: lookup-run.ts (one lookup in
 * flight, the waterfall's continuation and its reads' deadline), guarded-tier.ts (each tier's
 * failure policy: timeout, breaker, counters, log once; every tier call goes through it, so
 * nothing a driver does can throw into the LLM path), accept.ts (may a payload answer a key),
 * coalesce.ts and lease-wait.ts (concurrent misses wait for the first, in this process and across
 * instances), maintenance.ts (erasures a tier could not run, retried; purge and flush), usable-answer.ts (which
 * stored answers may be handed out), bus-apply.ts (the invalidation bus) and reports.ts (stats,
 * health, inspect). Applications reach it as the engine, typed `Strata` (engine/strata.ts).
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Strata } from '../engine/strata.js';
import { StrataConfigError, type TierFailure } from '../errors.js';
import { judgeExact, judgeSimilar } from './accept.js';
import { InstanceBus } from './bus-apply.js';
import { Coalescer, MissDurations } from './coalesce.js';
import { copyAnswer, DecodedAnswers } from './decoded.js';
import { AtRest } from './encryption/at-rest.js';
import type { Sealer } from './encryption/keyring.js';
import {
  type Answer,
  decodeEntry,
  encodeEntry,
  isGenerationList,
  newEntry,
  type StoredEntry,
  type StoredGenerationData,
  storedEntry,
} from './entry.js';
import { errorOf } from './error-of.js';
import type { CacheEvents, Hit, Logger } from './events.js';
import {
  GuardedTier,
  type ManagedTierOptions,
  PENDING,
  type Read,
  type TierPolicy,
  type TierSink,
} from './guarded-tier.js';
import { type CacheKey, DEFAULT_NAMESPACE, embeddingLlmString } from './key.js';
import { LeaseWait } from './lease-wait.js';
import { recordLookup } from './lookup-outcome.js';
import { type LookupReceiver, LookupRun } from './lookup-run.js';
import { type Erasure, Erasures, flushEvery, purgeEvery } from './maintenance.js';
import type { LookupOptions, ManagerOptions, WriteOptions } from './options.js';
import * as reports from './reports.js';
import { findStale, type StaleOptions } from './stale.js';
import { CacheCounters } from './stats.js';
import type { MaybePromise, SimilarMatch, Tier, TierCall } from './tier.js';
import { type Operation, Tracing } from './tracing.js';
import { isUsableAnswer } from './usable-answer.js';

type Found = { hit: Hit; payload: string };

export class Manager implements Strata {
  readonly events = new EventEmitter<CacheEvents>();
  /** Reading what the tiers hold (search, daily statistics, listings, one key) under the same policy. */
  readonly queries: reports.TierQueries;
  readonly namespace: string;
  readonly defaultTtlSeconds: number | null;
  readonly staleIfErrorSeconds: number;
  readonly logger: Logger;
  private readonly managed: GuardedTier[];
  private readonly totals = new CacheCounters();
  private readonly closing: Array<() => Promise<void>> = [];
  private readonly coalescer: Coalescer | undefined;
  private readonly bus: InstanceBus | undefined;
  /** Waiting for another instance's answer to a miss, through the shared tier that arbitrates. */
  private readonly leaseWait: LeaseWait | undefined;
  /** Payloads decoded once; every hit gets its own copy (decoded.ts). */
  private readonly decoded = new DecodedAnswers();
  /** Sealing what sealed tiers are handed and opening what they hold (encryption/at-rest.ts). */
  private readonly atRest: AtRest;
  private readonly missDurations: MissDurations;
  /** llm strings already warned about, so a warning is given once per cause. */
  private readonly warned = new Set<string>();
  private closed = false;
  private warnedClosed = false;
  private readonly erasures: Erasures;
  /** OpenTelemetry spans (tracing.ts): undefined from every call while nothing is traced. */
  private readonly tracing: Tracing;

  constructor(
    tiers: ReadonlyArray<{ tier: Tier; options: ManagedTierOptions; sink?: TierSink }>,
    private readonly options: ManagerOptions,
  ) {
    this.namespace = options.namespace ?? DEFAULT_NAMESPACE;
    this.defaultTtlSeconds = options.defaultTtlSeconds ?? null;
    this.staleIfErrorSeconds = options.staleIfErrorSeconds ?? 0;
    this.logger = options.logger;
    this.atRest = new AtRest(options.encryption);
    this.tracing = new Tracing(options.tracing !== false);
    const names = new Set<string>();
    const policy: TierPolicy = {
      clock: options.clock,
      warn: (message) => options.logger.warn(message),
      onError: (tier, op, error) => {
        this.totals.errors++;
        this.events.emit('error', { tier, op, error });
      },
      onBreaker: (tier, from, to) => this.events.emit('breaker', { tier, from, to }),
      onEvict: (event) => this.events.listenerCount('evict') > 0 && this.events.emit('evict', event),
      onClientError: (tier, error) => this.events.emit('error', { tier, op: 'connection', error }),
      closed: () => this.closed,
    };
    this.managed = tiers.map(({ tier, options: o, sink }) => {
      if (names.has(tier.name))
        throw new StrataConfigError([
          { path: 'tiers', message: `two tiers are named "${tier.name}"; give one a distinct name` },
        ]);
      names.add(tier.name);
      const guarded = new GuardedTier(tier, o, policy);
      sink?.attach(guarded);
      return guarded;
    });
    this.coalescer = options.coalesceWaitMs > 0 ? new Coalescer() : undefined;
    this.missDurations = new MissDurations(options.coalesceWaitMs);
    const busTier = this.managed.find((m) => m.tier.bus);
    this.bus = busTier ? new InstanceBus(busTier, this.managed, () => this.closed) : undefined;
    const leaser = options.coalesceWaitMs > 0 ? this.managed.find((m) => m.tier.lease) : undefined;
    this.leaseWait = leaser
      ? new LeaseWait(leaser, {
          waitMs: options.coalesceWaitMs,
          leaseMs: (llmString) => this.missDurations.leaseMs(llmString),
          usable: this.usable,
          closed: () => this.closed,
          now: () => options.clock.now(),
        })
      : undefined;
    this.queries = new reports.TierQueries(this.managed, this.totals, options.clock, this.atRest);
    this.erasures = new Erasures(this.managed, {
      closed: () => this.closed,
      warn: (message) => options.logger.warn(message),
      onClose: (fn) => this.onClose(fn),
    });
    // EventEmitter throws on an 'error' event nobody listens to; errors are already counted and logged.
    this.events.on('error', () => {});
  }

  get tierNames(): string[] {
    return this.managed.map((m) => m.name);
  }

  now(): number {
    return this.options.clock.now();
  }

  /** Joins the invalidation bus, if a tier carries one. Never blocks on a backend that is down. */
  start(): void {
    this.bus?.start((hash) => this.leaseWait?.wake(hash));
  }

  // --- Lookup -------------------------------------------------------------------------------------

  /** Waterfall lookup with coalescing of concurrent misses. */
  lookup(key: CacheKey, options?: LookupOptions): Promise<Hit | undefined> {
    return new Promise((found, failed) => this.lookupInto(key, options, { found, failed }));
  }

  /**
   * The lookup, told to `receiver` instead of through a promise of its own (lookup-run.ts): an
   * adapter that builds its answer from the hit settles one promise for the whole call. A memory
   * hit is told before this returns.
   */
  lookupInto(key: CacheKey, options: LookupOptions | undefined, receiver: LookupReceiver): void {
    if (this.closed) {
      receiver.found(this.refuseClosed('lookup'));
      return;
    }
    const run = new LookupRun(this, key, options, receiver);
    this.totals.lookups++;
    try {
      if (key.llmProblem !== undefined) this.warnOnce(key);
      run.trace = this.tracing.operation('strata.lookup', key.llmString);
      const pending = !run.bounded
        ? this.coalescer?.join(key.hash)
        : run.wait === 'measured'
          ? this.coalescer?.joinBounded(key.hash, this.missDurations.measuredMs(key.llmString))
          : undefined;
      if (pending) this.awaitFlight(run, pending);
      else this.waterfall(run);
    } catch (error) {
      this.abandon(run, error);
    }
  }

  /** Another caller of this process leads the key's flight: its answer, or a miss. */
  private awaitFlight(run: LookupRun, pending: Promise<string | undefined>): void {
    this.totals.coalesced++;
    const waited = run.trace?.wait('process');
    // undefined: the leader gave up (this caller may now lead) or its lease ran out.
    pending
      .then((payload) => {
        waited?.(payload !== undefined);
        const decoded = payload === undefined ? undefined : this.decoded.template(run.key.hash, payload);
        const entry = decoded && (run.shared ? decoded.answer : copyAnswer(decoded.answer));
        this.finish(run, entry ? { entry, tier: 'coalesced', coalesced: true } : undefined);
      })
      .catch((error: unknown) => this.abandon(run, error));
  }

  /**
   * The waterfall, from the run's tier on (it is the hit path): the first tier with a valid,
   * live entry wins. It stops at a read that is pending; `readSettled` goes on from there.
   */
  private waterfall(run: LookupRun): void {
    const { key, trace } = run;
    for (; run.tier < this.managed.length; run.tier++) {
      const m = this.managed[run.tier]!;
      const read = trace
        ? trace.read(m, (note) => {
            run.note = note;
            return m.readInto(key, run.sealer, note, run);
          })
        : m.readInto(key, run.sealer, undefined, run);
      if (read === PENDING) {
        // Whether concurrent lookups of this key may now wait for this one. Claimed at the first
        // pending read: while every tier answers synchronously (memory), nothing else can run.
        if (run.claim && !run.led && !(run.bounded && this.coalescer?.has(key.hash)))
          run.led = this.lead(key, run.start);
        return;
      }
      const found =
        read === undefined ? undefined : this.accept(m, run.tier, key, read, run.sealer, run.shared);
      trace?.readDone(read, found !== undefined);
      if (found) {
        this.concluded(run, found);
        return;
      }
    }
    this.concluded(run, undefined);
  }

  /** @internal A pending read of `run` settled (lookup-run.ts): its answer, or on down the waterfall. */
  readSettled(run: LookupRun, read: Read): void {
    try {
      const m = this.managed[run.tier]!;
      const found =
        read === undefined ? undefined : this.accept(m, run.tier, run.key, read, run.sealer, run.shared);
      run.trace?.readDone(read, found !== undefined);
      if (found) this.concluded(run, found);
      else {
        run.tier++;
        this.waterfall(run);
      }
    } catch (error) {
      this.abandon(run, error);
    }
  }

  /** The waterfall ended: settle the key's flight (or wait for another instance's answer) and answer. */
  private concluded(run: LookupRun, found: Found | undefined): void {
    if (!run.claim) {
      this.finish(run, found?.hit);
      return;
    }
    const { key } = run;
    if (!found) {
      if (!run.led) {
        if (run.bounded && this.coalescer?.has(key.hash)) this.coalescer.restart(key.hash, run.start);
        else run.led = this.lead(key, run.start);
      }
      if (run.wait !== 'never' && this.leaseWait) {
        this.awaitOtherInstance(key, run.wait === 'measured', run.sealer, run.trace).then(
          (other) => this.settleFlight(run, other),
          (error: unknown) => this.abandon(run, error),
        );
        return;
      }
    }
    this.settleFlight(run, found);
  }

  private settleFlight(run: LookupRun, found: Found | undefined): void {
    const { hash } = run.key;
    if (found) {
      if (run.led) this.coalescer?.settle(hash, found.payload);
    } else this.coalescer?.hold(hash, this.missDurations.leaseMs(run.key.llmString));
    this.finish(run, found?.hit);
  }

  private finish(run: LookupRun, hit: Hit | undefined): void {
    recordLookup(this.events, this.totals, run.key, hit, performance.now() - run.start);
    run.trace?.endLookup(hit);
    run.done = true;
    run.receiver.found(hit);
  }

  /**
   * A fault of the lookup path itself (never a tier's: those are misses): the run ends as a
   * failure, and a flight it leads is given up so nobody waits for it.
   */
  private abandon(run: LookupRun, error: unknown): void {
    if (run.done) {
      // The receiver threw while being told: its fault is its own, said once.
      this.options.logger.warn(`[strata] a lookup's receiver failed: ${errorOf(error).message}`);
      return;
    }
    run.done = true;
    if (run.led) this.coalescer?.settle(run.key.hash, undefined);
    run.receiver.failed(error);
  }

  /** After a failed model call: the key's expired answer still kept for stale-if-error (stale.ts). */
  async lookupStale(key: CacheKey, options?: StaleOptions): Promise<Hit | undefined> {
    if (this.closed) return this.refuseClosed('lookupStale');
    const { managed, decoded, usable, totals, events } = this;
    const open = (m: GuardedTier, k: CacheKey, payload: string, sealer: Sealer | undefined) =>
      this.atRest.open(payload, k.namespace, k.hash, m.sealed, sealer);
    return findStale({ managed, decoded, usable, totals, events, open, now: this.now() }, key, options);
  }

  private lead(key: CacheKey, start: number): true {
    this.coalescer?.lead(key.hash, start);
    return true;
  }

  /**
   * A payload read from tier `i` answers the key only if it is intact, live, for this very key
   * (or, from a similarity tier, the entry it says matched, in the same namespace and llm string)
   * and usable by the application. A corrupt or misfiled one is counted and deleted; an expired
   * one deleted. A similar prompt's entry is not copied into faster tiers: they answer by exact
   * key, and the query's key is not the entry's.
   */
  private accept(
    m: GuardedTier,
    i: number,
    key: CacheKey,
    sealedRead: string | SimilarMatch,
    sealer: Sealer | undefined,
    shared: boolean,
  ): Found | undefined {
    const read = this.opened(m, key, sealedRead, sealer);
    if (read === undefined) return undefined;
    const similar = typeof read !== 'string';
    const payload = similar ? read.payload : read;
    const now = this.options.clock.now();
    const entry = similar
      ? judgeSimilar(read, key, this.usable, now)
      : judgeExact(read, key, this.usable, now, this.decoded, shared);
    if (typeof entry === 'string') {
      m.counters.misses++;
      const stored = similar ? { ...key, hash: read.hash, prompt: read.matchedPrompt } : key;
      if (entry === 'corrupt') {
        m.counters.corrupt++;
        m.logOnce('get', new Error(`discarded a corrupt or misfiled entry ${stored.hash.slice(0, 12)}`));
      }
      // An expired entry kept for stale-if-error (stale.ts) stays until its grace ends.
      if (entry === 'corrupt' || (!similar && entry !== 'stale'))
        m.background('delete', (t) => t.delete(stored));
      return undefined;
    }
    m.counters.hits++;
    if (!similar) {
      if (i > 0) this.backfill(key, entry, payload, i, now, sealer);
      return { hit: { entry, tier: m.name, coalesced: false }, payload };
    }
    if (read.similarity !== undefined) m.counters.similarity.record(read.similarity);
    const { similarity, matchedPrompt } = read;
    return { hit: { entry, tier: m.name, coalesced: false, similarity, matchedPrompt }, payload };
  }

  /**
   * What a tier read, opened (encryption/at-rest.ts). One that must not be used (it does not open
   * with this call's keys: another key, another row, tampered; or plain where sealed payloads are
   * required) is a miss counted as corrupt. It is left in place: it may be another tenant's or a
   * newer key's, and the key's next write replaces it.
   */
  private opened(
    m: GuardedTier,
    key: CacheKey,
    read: string | SimilarMatch,
    sealer: Sealer | undefined,
  ): string | SimilarMatch | undefined {
    const similar = typeof read !== 'string';
    const payload = similar ? read.payload : read;
    const plain = this.atRest.open(payload, key.namespace, similar ? read.hash : key.hash, m.sealed, sealer);
    if (plain === payload) return read;
    if (plain !== undefined) return similar ? { ...read, payload: plain } : plain;
    m.counters.misses++;
    m.counters.corrupt++;
    m.logOnce(
      'get',
      new Error(`an entry that does not open with this cache's keys (${key.hash.slice(0, 12)})`),
    );
    return undefined;
  }

  /**
   * An answer no edge can hand back (core/usable-answer.ts) is treated like a corrupt one: a
   * miss, counted, deleted where it was found, never backfilled. An edge that still cannot
   * convert a hit treats it as a miss itself.
   */
  private readonly usable = (answer: Answer, llmString: string): boolean => isUsableAnswer(answer, llmString);

  /** Distributed coalescing (lease-wait.ts): another instance's answer to this miss, if it is computing one. */
  private async awaitOtherInstance(
    key: CacheKey,
    measured: boolean,
    sealer: Sealer | undefined,
    trace: Operation | undefined,
  ): Promise<Found | undefined> {
    const wait = this.leaseWait;
    const waitMs = measured ? this.missDurations.measuredMs(key.llmString) : this.options.coalesceWaitMs;
    if (!wait || waitMs === undefined) return undefined;
    const open = (payload: string) =>
      this.atRest.open(payload, key.namespace, key.hash, wait.via.sealed, sealer);
    let waited: ((answered: boolean) => void) | undefined;
    const onWait = trace && (() => (waited = trace.wait('instances')));
    const answered = await wait.answerFromOthers(key, waitMs, open, onWait);
    waited?.(answered !== undefined);
    if (!answered) return undefined;
    this.totals.coalesced++;
    const index = this.managed.indexOf(wait.via);
    if (index > 0)
      this.backfill(key, answered.entry, answered.payload, index, this.options.clock.now(), sealer);
    return {
      hit: { entry: answered.entry, tier: wait.via.name, coalesced: true },
      payload: answered.payload,
    };
  }

  /** Copies a hit into the tiers above the one that served it, with the entry's remaining lifetime. */
  private backfill(
    key: CacheKey,
    answer: Answer,
    payload: string,
    servedBy: number,
    now: number,
    sealer: Sealer | undefined,
  ): void {
    // Off the hit path: the full decode gives SQL tiers their prompt column.
    const stored = storedEntry(decodeEntry(payload) ?? answer, payload);
    const from = this.managed[servedBy]!.name;
    const memo = {};
    for (let i = 0; i < servedBy; i++) {
      const m = this.managed[i]!;
      const handed = this.atRest.stored(stored, key.namespace, key.hash, m.sealed, sealer, memo);
      void m.track(m.write(key, handed, now, sealer)).then((ok) => {
        if (!ok) return;
        m.counters.backfills++;
        if (this.events.listenerCount('backfill') > 0)
          this.events.emit('backfill', { key, from, to: m.name });
      });
    }
  }

  // --- Writes -------------------------------------------------------------------------------------

  /** Builds the entry once and writes it through to every tier in parallel. */
  async update(key: CacheKey, gens: StoredGenerationData[], write: WriteOptions = {}): Promise<void> {
    if (this.closed) return this.refuseClosed('update');
    const trace = this.tracing.operation('strata.update', key.llmString);
    const now = this.options.clock.now();
    const staleMs = write.staleMs ?? this.staleIfErrorSeconds * 1000;
    const entry = newEntry(key, gens, { ...write, staleMs, now, storePrompt: this.options.storePrompt });
    // An answer no lookup would accept (a stream that assembled no text, generations LangChain
    // cannot return) is not stored: whoever waits for it stops waiting instead.
    if (!isGenerationList(gens) || !this.usable(entry, key.llmString)) {
      this.totals.unstorable++;
      this.release(key);
      trace?.endUpdate(gens, 'unstorable');
      return;
    }
    const stored = encodeEntry(entry);
    this.totals.updates++;
    // Waiters get the answer now; the tiers catch up in parallel.
    const missedAt = this.coalescer?.settle(key.hash, stored.payload);
    if (missedAt !== undefined) this.missDurations.record(key.llmString, performance.now() - missedAt);
    const memo = {};
    const results = await Promise.all(
      this.managed.map((m) => {
        const handed = this.atRest.stored(stored, key.namespace, key.hash, m.sealed, write.sealer, memo);
        return trace
          ? trace.write(m, (note) => m.write(key, handed, now, write.sealer, note), handed.size)
          : m.write(key, handed, now, write.sealer);
      }),
    );
    trace?.endUpdate(gens, results.filter(Boolean).length);
    this.leaseWait?.release(key);
    this.bus?.announce({ op: 'set', namespace: key.namespace, hash: key.hash });
    if (this.events.listenerCount('set') > 0) {
      const tiers = this.managed.filter((_, i) => results[i]).map((m) => m.name);
      this.events.emit('set', { key, tiers, bytes: stored.size });
    }
  }

  /**
   * The caller that missed this key will not store an answer (its model call failed, was aborted,
   * or its answer is not to be cached): whoever waits for it stops waiting now, in this process
   * and in others.
   */
  release(key: CacheKey): void {
    this.coalescer?.release(key.hash, performance.now());
    this.leaseWait?.release(key);
  }

  /**
   * A lookup or update the adapter refused because it could not establish which model answers
   * (langchain/model-identity.ts): nothing is read or written; counted as a lookup and a miss
   * (the application pays for that call), and said once per model class.
   */
  refuseUnidentified(llmType: string, message: string, lookup: boolean): void {
    if (lookup) {
      this.totals.lookups++;
      this.totals.misses++;
      this.totals.unidentified++;
    }
    const cause = `model-unidentified:${llmType}`;
    if (this.warned.has(cause) || this.warned.size >= 1024) return;
    this.warned.add(cause);
    this.options.logger.warn(`[strata] ${message}`);
    this.events.emit('warning', { code: 'model-unidentified', message, llmType });
  }

  /**
   * Hits the adapter did not serve (they came after a miss in a LangChain batch, which LangChain
   * would misplace): they are counted as misses, and said once.
   */
  withholdHits(n: number): void {
    this.totals.hits -= n;
    this.totals.misses += n;
    const cause = 'batch-mixed';
    if (this.warned.has(cause)) return;
    this.warned.add(cause);
    this.options.logger.warn(
      '[strata] a LangChain batch had cached prompts after an uncached one: LangChain would put those cached answers at the wrong positions, so they go to the model too (said once)',
    );
  }

  /** Stores an already-encoded entry (import), keeping its timestamps; sealed tiers get it sealed. */
  async restore(given: CacheKey, stored: StoredEntry, sealer?: Sealer): Promise<string[]> {
    // An imported embedding vector stays out of similarity tiers, as it was when first stored.
    const key = given.exact || !embeddingLlmString(given.llmString) ? given : { ...given, exact: true };
    const now = this.options.clock.now();
    const memo = {};
    const results = await Promise.all(
      this.managed.map((m) =>
        m.write(
          key,
          this.atRest.stored(stored, key.namespace, key.hash, m.sealed, sealer, memo),
          now,
          sealer,
        ),
      ),
    );
    return this.managed.filter((_, i) => results[i]).map((m) => m.name);
  }

  // --- Maintenance across tiers (maintenance.ts) -----------------------------------------------------

  /** Removes one key from every tier; resolves with how many tiers held it. */
  async delete(key: CacheKey): Promise<number> {
    this.coalescer?.settle(key.hash, undefined);
    try {
      return await this.erase({
        op: 'delete',
        namespace: key.namespace,
        id: JSON.stringify(['delete', key.namespace, key.hash]),
        run: (t) => t.delete(key),
      });
    } finally {
      this.bus?.announce({ op: 'delete', namespace: key.namespace, hash: key.hash });
    }
  }

  /** Removes every entry of one namespace (undefined: of every namespace); resolves with how many. */
  async clear(namespace?: string): Promise<number> {
    try {
      return await this.erase({
        op: 'clear',
        namespace,
        id: JSON.stringify(['clear', namespace ?? null]),
        run: (t) => t.clear(namespace),
      });
    } finally {
      this.bus?.announce(namespace === undefined ? { op: 'clear' } : { op: 'clear', namespace });
    }
  }

  /** Removes every entry with the tag, in one namespace (undefined: in every namespace); resolves with how many. */
  async invalidateTag(tag: string, namespace?: string): Promise<number> {
    // A tag no entry can carry would remove nothing and report success for it.
    if (typeof tag !== 'string' || tag.length === 0)
      throw new StrataConfigError([{ path: 'invalidateTag.tag', message: 'must be a non-empty string' }]);
    try {
      return await this.erase({
        op: 'invalidateTag',
        namespace,
        id: JSON.stringify(['invalidateTag', namespace ?? null, tag]),
        run: (t) => t.invalidateTag(tag, namespace),
      });
    } finally {
      this.bus?.announce(
        namespace === undefined ? { op: 'invalidateTag', tag } : { op: 'invalidateTag', tag, namespace },
      );
    }
  }

  /**
   * Takes the entry that answered this key out of similarity matching, in every tier that matches
   * by similarity. `call.sealer`: the keys the entry was sealed under when not the config's (the
   * gateway's per-tenant keys), which decide the key a sealed tier was told.
   */
  markBad(key: CacheKey, call?: TierCall): Promise<number> {
    return this.label('markBad', key, call);
  }

  /** Records that the entry which answered this key by similarity was right, in every tier that learns from it. */
  markGood(key: CacheKey, call?: TierCall): Promise<number> {
    return this.label('markGood', key, call);
  }

  private async label(op: 'markBad' | 'markGood', key: CacheKey, call?: TierCall): Promise<number> {
    if (this.closed) return this.refuseClosed(op) ?? 0;
    // Each tier as it was told the key when it stored it (under encryption, a sealed tier knows
    // the llm string by its digest, and the semantic tier partitions by it).
    const results = await Promise.all(
      this.managed.map((m) => m.run(op, (t) => t[op]?.(m.keyTold(key, call?.sealer)) ?? false)),
    );
    return results.filter(Boolean).length;
  }

  /** Deletes expired entries in every tier now: how many each tier removed, and the tiers that could not. */
  purgeExpired(): Promise<{ counts: Record<string, number>; failures: TierFailure[] }> {
    return purgeEvery(this.managed, this.closed);
  }

  /**
   * Makes the writes a tier accepted but still holds in memory reach its store now (SQLite queues
   * the writes that meet another process's lock), and names the tiers where they could not: those
   * writes are lost, and the tier fails later writes that meet the lock instead of queueing them.
   * For `strata import`, which must report what was stored, not what was accepted.
   */
  flushWrites(): Promise<TierFailure[]> {
    return flushEvery(this.managed, this.closed);
  }

  /** A raw driver, bypassing the failure policy: for tests that plant or inspect bytes, never for the library's own use. */
  tier(name: string): Tier | undefined {
    return this.managed.find((m) => m.name === name)?.tier;
  }

  /** The raw drivers, in order (tests only, as `tier`). */
  get tiers(): Tier[] {
    return this.managed.map((m) => m.tier);
  }

  /** Runs one operation on every tier in parallel; a failing tier yields undefined and is counted. */
  private everyTier<T>(op: string, fn: (tier: Tier) => MaybePromise<T>): Promise<Array<T | undefined>> {
    if (this.closed) return Promise.resolve(this.managed.map(() => this.refuseClosed(op)));
    return Promise.all(this.managed.map((m) => m.run(op, fn)));
  }

  private erase(erasure: Erasure): Promise<number> {
    return this.erasures.erase(erasure);
  }

  /** An llmKey stored only as a digest (core/secrets.ts could not parse it): said once per cause. */
  private warnOnce(key: CacheKey): void {
    if (this.warned.has(key.llmString) || this.warned.size >= 1024) return;
    this.warned.add(key.llmString);
    const message = `[strata] ${key.llmProblem}`;
    this.options.logger.warn(message);
    this.events.emit('warning', { code: 'llm-key-unparsed', message, llmString: key.llmString });
  }

  // --- Reporting ----------------------------------------------------------------------------------

  /** Runs `fn` first when the manager closes (a last fleet report), before the tiers close. */
  onClose(fn: () => Promise<void>): void {
    this.closing.push(fn);
  }

  /**
   * Counters, latencies and, unless `store: false`, what each tier holds. The store part asks
   * every backend (a count over a SQL table, an aggregation): periodic readers that need only
   * the counters skip it.
   */
  async stats(options: { store?: boolean } = {}): Promise<reports.StatsReport> {
    const stores = options.store === false ? [] : await this.everyTier('stats', (t) => t.stats());
    return reports.statsReport(this.totals, this.managed, stores, this.coalescer?.inFlight ?? 0);
  }

  /** Latency histograms as cumulative counts at `boundsMs`: lookups, and each tier's gets and sets. */
  latencyHistograms(boundsMs: readonly number[]): reports.LatencyHistograms {
    return reports.latencyHistograms(this.totals, this.managed, boundsMs);
  }

  health(): Promise<reports.HealthReport> {
    return reports.healthReport(this.managed);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(this.closing.map((fn) => fn()));
    this.coalescer?.close();
    this.leaseWait?.close();
    // Backfills and deletes already under way finish against open tiers, then the tiers close.
    await Promise.all(this.managed.map((m) => m.drain()));
    await Promise.all(this.managed.map((m) => m.close()));
  }

  /** A call after close(): no tier is touched; said once, answered as a miss (never thrown into the LLM path). */
  private refuseClosed(op: string): undefined {
    if (!this.warnedClosed) {
      this.warnedClosed = true;
      this.options.logger.warn(
        `[strata] ${op} after close(): the cache is closed, so this is a miss and nothing is stored`,
      );
    }
    return undefined;
  }
}
