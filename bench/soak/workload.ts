/**
 * The soak's mixed workload, as the chaos suite's (test/support/chaos.ts) but steady and long:
 * WORKERS loops against one engine, each doing one call then pausing, so the rate stays modest
 * on a shared 2-core machine. Lookups store what they miss (the answer names its prompt and
 * version and is ~2 KB, so a cut or spliced reply cannot pass for one), updates, deletes, tag
 * invalidations, and bursts of four identical concurrent misses on prompts whose short TTL has
 * run out. Every hit is checked to be an answer stored for its prompt; every mutation goes
 * through the ledger.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CacheKey, deriveKey } from '../../src/core/key.js';
import type { Strata } from '../../src/engine/strata.js';
import { IncompleteOperationError } from '../../src/errors.js';
import { Ledger } from './ledger.js';

const WORKERS = 4;
const PAUSE_MS = 25;
const PROMPTS = 200;
export const TAGS = ['t0', 't1', 't2', 't3', 't4'];
/** Herd prompts are reused round-robin; with their short TTL each has expired when it comes back. */
const HERD_POOL = 300;
const HERD_TTL_MS = 20_000;
/** TTLs of the other answers: some run out during a 30-minute soak, some outlive it. */
const TTLS_MS = [90_000, 600_000, 3_600_000];
/** One answer every 5 s is written once and left alone until the end (see `cold`). */
const COLD_EVERY_MS = 5_000;
export const LLM = 'model:"soak"';
export const DURABLE = ['sqlite', 'redis', 'postgres'];

export function answerFor(prompt: string, version: number): string {
  return `answer to ${JSON.stringify(prompt)} v${version}: ${`${prompt}|`.repeat(60)}`;
}

function isAnswerOf(prompt: string, text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const version = /^answer to ".*" v(\d+): /s.exec(text)?.[1];
  return version !== undefined && text === answerFor(prompt, Number(version));
}

/** Counters since the last `take()`. */
export interface Interval {
  calls: number;
  lookups: number;
  hits: number;
  escaped: number;
  incomplete: number;
  wrong: number;
  /** The slowest call's duration, ms. */
  slowestMs: number;
}

const zero = (): Interval => ({
  calls: 0,
  lookups: 0,
  hits: 0,
  escaped: 0,
  incomplete: 0,
  wrong: 0,
  slowestMs: 0,
});

export class Workload {
  readonly ledger = new Ledger();
  readonly prompts: string[];
  /** Whatever reached the caller that the API does not promise, and hits with another answer. */
  readonly escapedErrors: string[] = [];
  readonly wrongHits: string[] = [];
  private interval = zero();
  readonly total = zero();
  private stopped = false;
  private loops: Promise<void>[] = [];
  private version = 0;
  private herds = 0;
  /** The tiers the last `set` event of each key hash named. */
  private readonly acked = new Map<string, string[]>();

  constructor(
    private readonly strata: Strata,
    run: string,
  ) {
    this.prompts = Array.from({ length: PROMPTS }, (_, i) => `soak ${run} question ${i}`);
    strata.events.on('set', ({ key, tiers }) => this.acked.set(key.hash, tiers));
  }

  key(prompt: string): CacheKey {
    return deriveKey(this.strata.namespace, LLM, prompt);
  }

  tagOf(index: number): string {
    return TAGS[index % TAGS.length]!;
  }

  start(): void {
    this.stopped = false;
    for (let w = 0; w < WORKERS; w++) this.loops.push(this.loop());
    this.loops.push(this.cold());
  }

  /**
   * Every COLD_EVERY_MS, one answer nothing touches again (its own tag, never invalidated, an
   * hour's TTL): what the tiers acknowledged early in the soak, under a fault or not, must
   * still be there at the end, through every later fault.
   */
  private async cold(): Promise<void> {
    for (let n = 0; !this.stopped; n++) {
      await this.store(`${this.prompts[0]} cold ${n}`, 'cold', 3_600_000);
      for (let waited = 0; waited < COLD_EVERY_MS && !this.stopped; waited += 100) await sleep(100);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.loops = [];
  }

  take(): Interval {
    const out = this.interval;
    this.interval = zero();
    return out;
  }

  private took(ms: number): void {
    this.interval.slowestMs = Math.max(this.interval.slowestMs, ms);
    this.total.slowestMs = Math.max(this.total.slowestMs, ms);
  }

  private count(field: Exclude<keyof Interval, 'slowestMs'>, n = 1): void {
    this.interval[field] += n;
    this.total[field] += n;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const i = Math.floor(Math.random() * PROMPTS);
      const prompt = this.prompts[i]!;
      const tag = this.tagOf(i);
      const r = Math.random();
      if (r < 0.78) await this.lookupOrStore(prompt, tag, undefined);
      else if (r < 0.93) await this.store(prompt, tag, undefined);
      else if (r < 0.96) await this.erase(prompt, tag);
      else if (r < 0.965) await this.invalidate(TAGS[Math.floor(Math.random() * TAGS.length)]!);
      else await this.herd();
      await sleep(PAUSE_MS);
    }
  }

  /** Four callers missing one prompt at once: one stores, the others get its answer. */
  private async herd(): Promise<void> {
    const prompt = `${this.prompts[0]} herd ${this.herds++ % HERD_POOL}`;
    await Promise.all([0, 1, 2, 3].map(() => this.lookupOrStore(prompt, 'herd', HERD_TTL_MS)));
  }

  private async lookupOrStore(prompt: string, tag: string, ttlMs: number | undefined): Promise<void> {
    this.count('calls');
    this.count('lookups');
    let hit: Awaited<ReturnType<Strata['lookup']>>;
    const t0 = performance.now();
    try {
      hit = await this.strata.lookup(this.key(prompt));
    } catch (error) {
      this.escape('lookup', error);
      return;
    } finally {
      this.took(performance.now() - t0);
    }
    if (!hit) {
      await this.store(prompt, tag, ttlMs);
      return;
    }
    this.count('hits');
    const text = hit.entry.gens[0]?.text;
    if (hit.entry.gens.length !== 1 || !isAnswerOf(prompt, text)) {
      this.count('wrong');
      if (this.wrongHits.length < 20)
        this.wrongHits.push(`${prompt} <- ${String(text).slice(0, 100)} (from ${hit.tier})`);
    }
  }

  private async store(prompt: string, tag: string, ttl: number | undefined): Promise<void> {
    this.count('calls');
    const version = this.version++;
    const text = answerFor(prompt, version);
    const ttlMs = ttl ?? TTLS_MS[version % TTLS_MS.length]!;
    const key = this.key(prompt);
    const end = this.ledger.beginUpdate(prompt, tag);
    this.acked.delete(key.hash);
    const at = Date.now();
    const t0 = performance.now();
    try {
      await this.strata.update(key, [{ text }], { tags: [tag], ttlMs });
    } catch (error) {
      this.escape('update', error);
    }
    this.took(performance.now() - t0);
    const tiers = this.acked.get(key.hash)?.filter((t) => DURABLE.includes(t));
    this.acked.delete(key.hash);
    // The entry's expiry is counted from before the call, as the engine stamps it then.
    end(tiers ? { version, tiers, expiresAt: at + ttlMs, startedAt: at } : undefined, Date.now());
  }

  private async erase(prompt: string, tag: string): Promise<void> {
    this.count('calls');
    const end = this.ledger.beginDelete(prompt, tag);
    const t0 = performance.now();
    try {
      await this.strata.delete(this.key(prompt));
    } catch (error) {
      this.erasureFailed('delete', prompt, error);
    }
    this.took(performance.now() - t0);
    end(Date.now());
  }

  private async invalidate(tag: string): Promise<void> {
    this.count('calls');
    const end = this.ledger.beginInvalidate(tag);
    const t0 = performance.now();
    try {
      await this.strata.invalidateTag(tag);
    } catch (error) {
      this.erasureFailed('invalidateTag', tag, error);
    }
    this.took(performance.now() - t0);
    end(Date.now());
  }

  private erasureFailed(op: string, target: string, error: unknown): void {
    if (!(error instanceof IncompleteOperationError)) {
      this.escape(op, error);
      return;
    }
    this.count('incomplete');
    this.ledger.erasureFailed(
      target,
      error.failures.map((f) => f.tier),
      Date.now(),
    );
  }

  private escape(op: string, error: unknown): void {
    this.count('escaped');
    if (this.escapedErrors.length < 20) this.escapedErrors.push(`${op}: ${String(error)}`);
  }
}
