/**
 * How a view's lookups are answered, wait and group: the engine's hit as LangChain generations, how long a lookup may wait for another caller's answer
 * to the same key (core/options.ts `wait`), and which lookups are one LangChain batch, answered
 * together (batch-answers.ts).
 */
import type { Generation } from '@langchain/core/outputs';
import { errorOf } from '../core/error-of.js';
import type { Hit } from '../core/events.js';
import type { CacheKey } from '../core/key.js';
import type { LookupReceiver } from '../core/lookup-run.js';
import type { LookupOptions } from '../core/options.js';
import type { StaleOptions } from '../core/stale.js';
import type { Strata } from '../engine/strata.js';
import { CacheMissError } from '../errors.js';
import { type BatchAnswer, type BatchSeat, takeSeat } from './batch-answers.js';
import { generationsOf } from './generations.js';
import type { CacheMode } from './modes.js';
import { viewKey } from './view-identity.js';
import type { LookupResult, View } from './view-options.js';

/**
 * StrataCache.lookup, told by the engine (core/lookup-run.ts) instead of through promises of its
 * own: the hit as fresh LangChain generations, through the lookup's seat in its LangChain batch
 * when it may be in one, then as the view's mode wants a miss (null, or CacheMissError). The
 * caller's promise is the only one the call makes. Never throws: a fault is a miss, said.
 */
export class PlainLookup implements LookupReceiver, BatchAnswer<Generation[]> {
  private key: CacheKey | undefined;
  private readonly seat: BatchSeat<Generation[]> | undefined;

  constructor(
    private readonly strata: Strata,
    private readonly view: View,
    private readonly prompt: string,
    private readonly llmKey: string,
    private readonly mode: CacheMode,
    private readonly resolve: (generations: Generation[] | null) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.seat = mayBeBatched(view, prompt, llmKey)
      ? takeSeat(view.namespace, llmKey, strata, this)
      : undefined;
  }

  start(): void {
    try {
      this.key = viewKey(this.view, this.prompt, this.llmKey);
    } catch (error) {
      this.failed(error);
      return;
    }
    const wait = plainWait(this.view, this.prompt, this.llmKey);
    // A view that never stores must never make another caller wait for it.
    this.strata.lookupInto(this.key, this.mode === 'default' ? wait : { ...wait, claim: false }, this);
  }

  found(hit: Hit | undefined): void {
    let generations: Generation[] | null = null;
    if (hit) {
      try {
        generations = generationsOf(hit, this.key!.llmString);
      } catch (error) {
        this.warn(error);
      }
    }
    this.settle(generations);
  }

  failed(error: unknown): void {
    this.warn(error);
    this.settle(null);
  }

  /** What the caller gets, once its batch allows (batch-answers.ts). */
  answer(generations: Generation[] | null): void {
    if (generations) this.resolve(generations);
    else if (this.mode === 'only-if-cached') this.reject(new CacheMissError(this.key?.hash ?? 'unknown'));
    else {
      if (this.mode === 'default') this.view.ledger?.missed(this.prompt, this.llmKey);
      this.resolve(null);
    }
  }

  private settle(generations: Generation[] | null): void {
    if (this.seat) this.seat.settle(generations);
    else this.answer(generations);
  }

  private warn(error: unknown): void {
    this.view.logger.warn(`[strata] lookup failed, treated as a miss: ${errorOf(error).message}`);
  }
}

/**
 * The engine's answer to a key as a LookupResult (lookupWithInfo, withCache); null for a miss,
 * or when the hit cannot be built into generations (said, like any failed lookup).
 */
export function lookupResult(
  strata: Strata,
  view: View,
  key: CacheKey,
  options: LookupOptions,
): Promise<LookupResult | null> {
  return new Promise((resolve) => {
    const warn = (error: unknown) => {
      view.logger.warn(`[strata] lookup failed, treated as a miss: ${errorOf(error).message}`);
      resolve(null);
    };
    // The generations are built fresh from the hit (generations.ts): the engine need not copy it.
    strata.lookupInto(key, options.shared ? options : { ...options, shared: true }, {
      found: (hit) => {
        try {
          resolve(asLookupResult(strata, key, hit));
        } catch (error) {
          warn(error);
        }
      },
      failed: warn,
    });
  });
}

/**
 * After a failed model call (withCache): the key's expired answer kept for stale-if-error
 * (core/stale.ts), as LangChain generations, marked `stale`.
 */
export async function staleResult(
  strata: Strata,
  key: CacheKey,
  options: StaleOptions,
): Promise<LookupResult | null> {
  return asLookupResult(strata, key, await strata.lookupStale(key, options));
}

function asLookupResult(strata: Strata, key: CacheKey, hit: Hit | undefined): LookupResult | null {
  if (!hit) return null;
  const generations = generationsOf(hit, key.llmString);
  const { tier, coalesced, similarity, matchedPrompt } = hit;
  const ageSeconds = Math.max(0, (strata.now() - hit.entry.createdAt) / 1000);
  const semantic = matchedPrompt === undefined ? {} : { similarity, matchedPrompt };
  return { generations, tier, ageSeconds, coalesced, ...semantic, ...(hit.stale ? { stale: true } : {}) };
}

/** A lookup of LangChain's plain path: a failed model call is never reported to it (core/options.ts). */
const PLAIN: LookupOptions = { wait: 'measured', shared: true };
/** An attached model's lookup: its failures are reported (run-handler.ts), so it waits as withCache does. */
const ATTACHED: LookupOptions = { wait: 'lease', shared: true };
/** A repeat of a key earlier in the caller's own batch. */
const REPEAT: LookupOptions = { wait: 'never', shared: true };

/** How a lookup of LangChain's plain path may wait for another caller's answer to the same key. */
export function plainWait(view: View, prompt: string, llmKey: string): LookupOptions {
  const ledger = view.ledger;
  if (!ledger) return PLAIN;
  return ledger.takeRepeat(prompt, llmKey) ? REPEAT : ATTACHED;
}

/**
 * Whether this lookup may be one of a LangChain batch: an attached model's callbacks say which
 * prompts are; otherwise any lookup with an llmKey LangChain built (`_type`) may be. Keys a
 * caller builds itself are never grouped (their lookups are not LangChain's).
 */
function mayBeBatched(view: View, prompt: string, llmKey: string): boolean {
  const ledger = view.ledger;
  if (ledger) return ledger.inBatch(prompt, llmKey);
  return builtByLangChain(llmKey);
}

/** Whether LangChain built this llmKey (it names `_type` or `_model`): remembered, bounded. */
const langchainBuilt = new Map<string, boolean>();
function builtByLangChain(llmKey: string): boolean {
  let built = langchainBuilt.get(llmKey);
  if (built === undefined) {
    built = /(^|,)_(type|model):/.test(llmKey);
    if (langchainBuilt.size >= 512) langchainBuilt.delete(langchainBuilt.keys().next().value!);
    langchainBuilt.set(llmKey, built);
  }
  return built;
}
