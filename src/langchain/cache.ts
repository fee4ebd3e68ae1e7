/**
 * StrataCache: LangChain's BaseCache over the engine (engine/strata.ts). Only the mapping: derive
 * the key, ask the engine, convert generations; and the views (namespace, options, attached
 * model). Which model answers is judged in view-identity.ts, how lookups wait and group in
 * view-lookups.ts, what a view may be made with in view-options.ts.
 *
 * lookup and update never throw: a cache that breaks the LLM call is worse than no cache.
 */
import type { Generation } from '@langchain/core/outputs';
import { looksUp, stores } from '../core/directives.js';
import { errorOf } from '../core/error-of.js';
import type { CacheKey } from '../core/key.js';
import { type LookupOptions, writeOptionsOf } from '../core/options.js';
import type { Strata } from '../engine/strata.js';
import { CacheMissError } from '../errors.js';
import { EngineView } from './engine-view.js';
import { toStored } from './generations.js';
import type { AttachableModel } from './run-handler.js';
import { similarAnswers } from './similar-answers.js';
import { attachModel } from './view-attach.js';
import { identified, viewKey } from './view-identity.js';
import { lookupResult, PlainLookup, plainWait, staleResult } from './view-lookups.js';
import {
  assertStoreOptions,
  assertStrings,
  type ClearOptions,
  checkedNamespace,
  checkedTag,
  type LookupResult,
  type StoreOptions,
  type View,
} from './view-options.js';

export type { ClearOptions, LookupResult, StoreOptions } from './view-options.js';

export class StrataCache extends EngineView {
  /** @internal use createCache(). */
  constructor(
    strata: Strata,
    private readonly view: View,
  ) {
    super(strata);
  }

  get namespace(): string {
    return this.view.namespace;
  }

  key(prompt: string, llmKey: string): CacheKey {
    return viewKey(this.view, prompt, llmKey);
  }

  lookup(prompt: string, llmKey: string): Promise<Generation[] | null> {
    const mode = this.view.store.mode ?? 'default';
    if (!looksUp(mode)) return Promise.resolve(null);
    if (!this.admitted(prompt, llmKey))
      return mode === 'only-if-cached'
        ? Promise.reject(new CacheMissError('unidentified-model'))
        : Promise.resolve(null);
    const { strata, view } = this;
    return new Promise((resolve, reject) =>
      new PlainLookup(strata, view, prompt, llmKey, mode, resolve, reject).start(),
    );
  }

  /**
   * Like lookup, with where the answer came from and how old it is. `claim: false` for a caller
   * that will not store what it computes on a miss (see LookupOptions).
   */
  async lookupWithInfo(
    prompt: string,
    llmKey: string,
    options?: LookupOptions,
  ): Promise<LookupResult | null> {
    if (!this.admitted(prompt, llmKey)) return null;
    return this.find(prompt, llmKey, options ?? plainWait(this.view, prompt, llmKey));
  }

  /**
   * After the model call for this key failed with an outage (a 429, a 5xx, a timeout, a refused
   * connection): its expired answer still kept for stale-if-error, marked `stale`; null when there
   * is none. withCache calls it; LangChain never tells a plain BaseCache that a call failed, so
   * only code that catches the model's error itself can. `maxStaleSeconds`: at most this far past
   * the entry's expiry. Never throws.
   */
  async lookupStale(
    prompt: string,
    llmKey: string,
    options: { maxStaleSeconds?: number } = {},
  ): Promise<LookupResult | null> {
    return Promise.resolve()
      .then(() => {
        assertStrings('lookupStale', prompt, llmKey);
        // The failed call's lookup was counted already: an unidentified model is not counted again.
        if (!identified(this.strata, this.view, llmKey, false)) return null;
        return staleResult(this.strata, this.key(prompt, llmKey), options);
      })
      .catch((error: unknown) => this.failed('stale lookup failed, treated as none', error));
  }

  /** The engine's hit as LangChain generations; a hit this adapter cannot convert is a miss. */
  private find(prompt: string, llmKey: string, options: LookupOptions): Promise<LookupResult | null> {
    let key: CacheKey;
    try {
      key = this.key(prompt, llmKey);
    } catch (error) {
      return Promise.resolve(this.failed('lookup failed, treated as a miss', error));
    }
    return lookupResult(this.strata, this.view, key, options);
  }

  /** Whether a lookup may be made: strings, and a model this view can identify (view-identity.ts). */
  private admitted(prompt: string, llmKey: string): boolean {
    try {
      assertStrings('lookup', prompt, llmKey);
      return identified(this.strata, this.view, llmKey, true);
    } catch (error) {
      return this.failed('lookup failed, treated as a miss', error) ?? false;
    }
  }

  private failed(what: string, error: unknown): null {
    this.view.logger.warn(`[strata] ${what}: ${errorOf(error).message}`);
    return null;
  }

  /**
   * Tells the cache that the caller who missed this key will not store an answer (its model call
   * failed or was aborted): callers waiting for that answer stop waiting now. withCache does this
   * by itself; with plain BaseCache use, call it from your own error handling if you retry.
   */
  release(prompt: string, llmKey: string): void {
    try {
      this.strata.release(this.key(prompt, llmKey));
    } catch (error) {
      this.failed('release failed', error);
    }
  }

  async update(prompt: string, llmKey: string, value: Generation[]): Promise<void> {
    if (!stores(this.view.store.mode)) return;
    try {
      if (!identified(this.strata, this.view, llmKey, false)) return;
      // The attached model's run handler stored this answer already (run-handler.ts).
      if (this.view.ledger?.takeStored(prompt, llmKey)) return;
      // Nothing to answer with: not an entry, but whoever waits for one must stop waiting.
      if (!Array.isArray(value) || value.length === 0) return this.release(prompt, llmKey);
      const write = writeOptionsOf(this.view.store, this.view.defaultTtlSeconds);
      await this.strata.update(this.key(prompt, llmKey), value.map(toStored), write);
    } catch (error) {
      this.failed('update failed, answer not cached', error);
    }
  }

  /** Reports a wrong semantic answer: that entry never answers another prompt again. Returns how many similarity tiers took it out. */
  markBad(prompt: string, llmKey: string): Promise<number> {
    assertStrings('markBad', prompt, llmKey);
    return this.strata.markBad(this.key(prompt, llmKey));
  }

  /**
   * Reports a right semantic answer: a label for a similarity tier that learns when to serve
   * (`maxErrorRate`). Returns how many similarity tiers recorded it (0: no tier knows of a
   * similar answer for this prompt, or none learns).
   */
  markGood(prompt: string, llmKey: string): Promise<number> {
    assertStrings('markGood', prompt, llmKey);
    return this.strata.markGood(this.key(prompt, llmKey));
  }

  /**
   * Reports on a similarity answer `withCache` gave, by its `response_metadata.strata.responseId`:
   * wrong is `markBad`, right is `markGood`, for that answer's request. Returns how many tiers
   * recorded it; 0 for an id this cache did not give (or forgot: the last 10,000 are kept), or
   * already reported on.
   */
  async feedback(responseId: string, verdict: 'right' | 'wrong'): Promise<number> {
    if (typeof responseId !== 'string' || (verdict !== 'right' && verdict !== 'wrong'))
      throw new TypeError(
        'feedback(responseId, verdict): responseId must be a string, verdict "right" or "wrong"',
      );
    const answers = similarAnswers(this.strata);
    const key = answers.get(responseId);
    if (!key) return 0;
    const recorded = verdict === 'wrong' ? await this.strata.markBad(key) : await this.strata.markGood(key);
    if (recorded > 0) answers.forget(responseId);
    return recorded;
  }

  /** Removes one entry from every tier; returns how many tiers held it. */
  delete(prompt: string, llmKey: string): Promise<number> {
    assertStrings('delete', prompt, llmKey);
    return this.strata.delete(this.key(prompt, llmKey));
  }

  /** Clears this view's namespace (or another one, or all); returns entries removed across tiers. */
  clear(options: ClearOptions = {}): Promise<number> {
    if (options.all) return this.strata.clear();
    return this.strata.clear(checkedNamespace('clear.namespace', options.namespace ?? this.view.namespace));
  }

  /** Removes every entry carrying this tag in this view's namespace (or in all, with allNamespaces). */
  invalidateTag(tag: string, options: { allNamespaces?: boolean } = {}): Promise<number> {
    return this.strata.invalidateTag(
      checkedTag(tag),
      options.allNamespaces ? undefined : this.view.namespace,
    );
  }

  /**
   * Closes the engine this cache opened from a config: every view of it stops working. An engine
   * given to createCache belongs to its opener, and is left open.
   */
  close(): Promise<void> {
    return this.view.ownsEngine ? this.strata.close() : Promise.resolve();
  }

  /** A view of the same tiers and connections whose keys live in another namespace. */
  withNamespace(namespace: string): StrataCache {
    return new StrataCache(this.strata, {
      ...this.view,
      namespace: checkedNamespace('withNamespace', namespace),
    });
  }

  /** A view that stores the next updates with these tags, TTL and metadata, in this mode. */
  withOptions(store: StoreOptions): StrataCache {
    assertStoreOptions(store);
    return new StrataCache(this.strata, { ...this.view, store: { ...this.view.store, ...store } });
  }

  /**
   * Makes this view the model's cache, with the model's identity in every key (its class,
   * invocation parameters and configuration: model name, sampling parameters, endpoint, region),
   * and returns the model: `const model = cache.attach(new ChatGroq({ model: 'llama-3.1-8b-instant' }))`.
   * Needed for the plain `cache` option of every class whose llmKey names no model or endpoint.
   */
  attach<M extends AttachableModel>(model: M): M {
    return attachModel(model, this.strata, this.view, (view) => new StrataCache(this.strata, view));
  }
}
