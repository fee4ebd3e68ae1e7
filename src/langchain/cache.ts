/**
 * StrataCache: LangChain's BaseCache over the manager. Thin on purpose: derive the key, ask the
 * manager, convert generations. All policy (tiers, failures, coalescing) lives below.
 *
 * lookup and update never throw: a cache that breaks the LLM call is worse than no cache.
 *
 * Which model answers is established, not trusted (model-identity.ts): a view made by
 * `attach(model)` adds the model instance's identity to every key; without one, an llmKey that
 * does not name the model and its endpoint is refused (no lookup, no store, counted, said once).
 */
import { BaseCache } from '@langchain/core/caches';
import type { Generation } from '@langchain/core/outputs';
import { MAX_TTL_SECONDS } from '../config/fields.js';
import { isChatLlmString } from '../core/entry.js';
import { MAX_TAG_LENGTH, MAX_TAGS } from '../core/entry-schema.js';
import type { CacheEvents, Hit, Logger } from '../core/events.js';
import { type CacheKey, deriveKey, validateNamespace } from '../core/key.js';
import type { Manager } from '../core/manager.js';
import type { LookupOptions, WriteOptions } from '../core/options.js';
import type { HealthReport, StatsReport } from '../core/reports.js';
import { CacheMissError, errorOf, StrataConfigError } from '../errors.js';
import { answeredTogether } from './batch-answers.js';
import { fromStored, toStored } from './generations.js';
import { identityPair, llmTypeOf, noteModel, unidentifiedModel } from './model-identity.js';
import { assertMode, type CacheMode } from './modes.js';
import { type AttachableModel, attachRunHandler, RunLedger } from './run-handler.js';

export interface StoreOptions {
  /** Tags attached to entries stored through this view, for invalidateTag(). */
  tags?: readonly string[];
  /** Lifetime of entries stored through this view; null = never expire. */
  ttlSeconds?: number | null;
  /** Free-form JSON metadata stored with each entry. */
  metadata?: Record<string, unknown>;
  /**
   * How lookups and updates through this view behave (see modes.ts): e.g. a model given
   * `cache.withOptions({ mode: 'only-if-cached' })` fails with CacheMissError on a miss, before
   * any model call, and one given `no-store` never writes.
   */
  mode?: CacheMode;
  /**
   * Which part of a prompt is the question, for a semantic tier: given the prompt, return the
   * question (a substring of it), or undefined for no similarity matching. The rest of the
   * prompt (a template, retrieved documents) must then be identical for a match.
   */
  semanticQuery?: (prompt: string) => string | undefined;
}

export interface ClearOptions {
  /** Clear this namespace instead of the view's own. */
  namespace?: string;
  /** Clear every namespace. */
  all?: boolean;
}

export interface LookupResult {
  generations: Generation[];
  tier: string;
  ageSeconds: number;
  coalesced: boolean;
  /** For an answer from a semantic tier: how similar the cached prompt is, and what it was. */
  similarity?: number;
  matchedPrompt?: string;
}

interface View {
  readonly namespace: string;
  readonly store: StoreOptions;
  readonly defaultTtlSeconds: number | null;
  readonly logger: Logger;
  /** The model this view is attached to: its identity is part of every key. */
  readonly model?: object;
  /** The attached model's keys that missed, for its run handler (run-handler.ts). */
  readonly ledger?: RunLedger;
}

/** The identity identified() read for an attached model, taken by the key() call right after it (same tick). */
let checked: { model: object; pair: string } | undefined;

/** A lookup of LangChain's plain path: a failed model call is never reported to it (core/options.ts). */
const PLAIN: LookupOptions = { wait: 'measured' };
/** An attached model's lookup: its failures are reported (run-handler.ts), so it waits as withCache does. */
const ATTACHED: LookupOptions = { wait: 'lease' };
/** A repeat of a key earlier in the caller's own batch. */
const REPEAT: LookupOptions = { wait: 'never' };

/** Judgements of llmKeys seen without a model instance (few distinct ones per process; bounded). */
const judged = new Map<string, string | undefined>();
function unidentified(llmKey: string): string | undefined {
  if (judged.has(llmKey)) return judged.get(llmKey);
  const problem = unidentifiedModel(llmKey);
  if (judged.size >= 512) judged.delete(judged.keys().next().value!);
  judged.set(llmKey, problem);
  return problem;
}

/** Whether LangChain built this llmKey (it names `_type` or `_model`): remembered with the judgement above. */
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

function assertStrings(method: string, prompt: unknown, llmKey: unknown): void {
  if (typeof prompt !== 'string') throw viewError(`${method}.prompt`, 'must be a string');
  if (typeof llmKey !== 'string') throw viewError(`${method}.llmKey`, 'must be a string');
}

function viewError(path: string, message: string): StrataConfigError {
  return new StrataConfigError([{ path, message }]);
}

/**
 * Whether an llm string is a chat model's, remembered for the last one asked: a model sends the
 * same llm string on every call, and the answer is otherwise a scan of it on every hit.
 */
let lastLlmString = '';
let lastIsChat = false;
function chatModel(llmString: string): boolean {
  if (llmString !== lastLlmString) {
    lastIsChat = isChatLlmString(llmString);
    lastLlmString = llmString;
  }
  return lastIsChat;
}

export class StrataCache extends BaseCache<Generation[]> {
  /** @internal use createCache(). */
  constructor(
    private readonly manager: Manager,
    private readonly view: View,
  ) {
    super();
  }

  get namespace(): string {
    return this.view.namespace;
  }

  key(prompt: string, llmKey: string): CacheKey {
    const model = this.view.model;
    const key = deriveKey(
      this.view.namespace,
      model ? `${llmKey},${this.takeIdentity(model)}` : llmKey,
      prompt,
    );
    const extract = this.view.store.semanticQuery;
    return extract ? { ...key, question: extract(prompt) ?? '' } : key;
  }

  lookup(prompt: string, llmKey: string): Promise<Generation[] | null> {
    if (typeof prompt !== 'string' || typeof llmKey !== 'string')
      return Promise.resolve(this.lookupFailed(new TypeError('prompt and llmKey must be strings')));
    const mode = this.view.store.mode;
    if (mode !== undefined && mode !== 'default') return this.lookupInMode(prompt, llmKey, mode);
    let found: Promise<Generation[] | null>;
    try {
      if (!this.identified(llmKey, true)) return Promise.resolve(null);
      const key = this.key(prompt, llmKey);
      found = this.manager.lookup(key, this.plainWait(prompt, llmKey)).then(
        (hit) => (hit ? this.generations(hit, key) : null),
        (error: unknown) => this.lookupFailed(error),
      );
    } catch (error) {
      found = Promise.resolve(this.lookupFailed(error));
    }
    return this.asBatch(prompt, llmKey, found);
  }

  /**
   * A lookup LangChain made as part of a generate() batch: answered together with the others
   * (batch-answers.ts), since LangChain misplaces the hits of a batch that also has misses.
   */
  private asBatch(
    prompt: string,
    llmKey: string,
    found: Promise<Generation[] | null>,
  ): Promise<Generation[] | null> {
    const ledger = this.view.ledger;
    const answered = this.mayBeBatched(prompt, llmKey)
      ? answeredTogether(`${this.view.namespace}\u0000${llmKey}`, found, (withheld) =>
          this.manager.withholdHits(withheld),
        )
      : found;
    return answered.then((generations) => {
      if (!generations) ledger?.missed(prompt, llmKey);
      return generations;
    });
  }

  /**
   * Whether this lookup may be one of a LangChain batch: an attached model's callbacks say which
   * prompts are; otherwise any lookup with an llmKey LangChain built (`_type`) may be. Keys a
   * caller builds itself are never grouped (their lookups are not LangChain's).
   */
  private mayBeBatched(prompt: string, llmKey: string): boolean {
    const ledger = this.view.ledger;
    if (ledger) return ledger.inBatch(prompt, llmKey);
    return builtByLangChain(llmKey);
  }

  private async lookupInMode(prompt: string, llmKey: string, mode: CacheMode): Promise<Generation[] | null> {
    if (mode === 'no-cache' || mode === 'refresh') return null;
    // A view that never stores must never make another caller wait for it.
    const wait = this.plainWait(prompt, llmKey);
    const found = this.lookupWithInfo(prompt, llmKey, { ...wait, claim: mode === 'default' }).then(
      (hit) => hit?.generations ?? null,
    );
    const generations = this.mayBeBatched(prompt, llmKey)
      ? await answeredTogether(`${this.view.namespace}\u0000${llmKey}`, found, (withheld) =>
          this.manager.withholdHits(withheld),
        )
      : await found;
    if (!generations && mode === 'only-if-cached') throw new CacheMissError(this.key(prompt, llmKey).hash);
    if (!generations && mode === 'default') this.view.ledger?.missed(prompt, llmKey);
    return generations;
  }

  /** Fresh LangChain generations for a hit; null (a miss) if they cannot be built. */
  private generations(hit: Hit, key: CacheKey): Generation[] | null {
    try {
      const chat = chatModel(key.llmString);
      return hit.entry.gens.map((g) => fromStored(g, chat));
    } catch (error) {
      return this.lookupFailed(error);
    }
  }

  /** How a lookup of LangChain's plain path may wait for another caller's answer to the same key. */
  private plainWait(prompt: string, llmKey: string): LookupOptions {
    const ledger = this.view.ledger;
    if (!ledger) return PLAIN;
    return ledger.takeRepeat(prompt, llmKey) ? REPEAT : ATTACHED;
  }

  /**
   * Whether this view can tell which model answers for this llmKey: always when attached to a
   * model or when the key carries withCache's identity; otherwise when the llmKey names the model
   * and its endpoint. A refused lookup is counted; the class is named once, with the fix.
   */
  private identified(llmKey: string, lookup: boolean): boolean {
    const model = this.view.model;
    let problem: string | undefined;
    if (model) {
      try {
        // Kept for the key() that follows at once: the identity is read once per call.
        checked = { model, pair: identityPair(model, {}) };
        return true;
      } catch (error) {
        problem = (error as Error).message;
      }
    } else problem = unidentified(llmKey);
    if (problem === undefined) return true;
    this.refuse(llmKey, problem, lookup);
    return false;
  }

  /** The attached model's identity pair: the one identified() just read, else read now. */
  private takeIdentity(model: object): string {
    const pair = checked?.model === model ? checked.pair : identityPair(model, {});
    checked = undefined;
    return pair;
  }

  /** @internal A call whose model could not be identified: not cached; counted, and said once per kind and type. */
  refuse(llmKey: string, problem: string, lookup: boolean, hasModel = this.view.model !== undefined): void {
    const { type, kind } = llmTypeOf(llmKey);
    const message = hasModel
      ? `not caching calls of the ${kind} whose LangChain type is "${type}" (its _llmType()): Strata cannot establish which model answers, because ${problem}; the model answers every call itself`
      : `not caching calls of the ${kind} whose LangChain type is "${type}" (its _llmType()): the llmKey LangChain gives a cache for it does not establish which model answers (${problem}), ` +
        'so two models (or two temperatures, endpoints or regions) could share answers. ' +
        'Attach the cache to the model instead: `const model = cache.attach(new YourModelClass({ ... }))`, or use withCache(model, cache).';
    this.manager.refuseUnidentified(`${kind}:${type}:${hasModel}`, message, lookup);
  }

  private lookupFailed(error: unknown): null {
    this.view.logger.warn(`[strata] lookup failed, treated as a miss: ${errorOf(error).message}`);
    return null;
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
    try {
      if (!this.identified(llmKey, true)) return null;
      const key = this.key(prompt, llmKey);
      const hit: Hit | undefined = await this.manager.lookup(key, options ?? this.plainWait(prompt, llmKey));
      const generations = hit ? this.generations(hit, key) : null;
      if (!hit || !generations) return null;
      return {
        generations,
        tier: hit.tier,
        ageSeconds: Math.max(0, (this.manager.now() - hit.entry.createdAt) / 1000),
        coalesced: hit.coalesced,
        ...(hit.matchedPrompt === undefined
          ? {}
          : { similarity: hit.similarity, matchedPrompt: hit.matchedPrompt }),
      };
    } catch (error) {
      return this.lookupFailed(error);
    }
  }

  /**
   * Tells the cache that the caller who missed this key will not store an answer (its model call
   * failed or was aborted): callers waiting for that answer stop waiting now. withCache does this
   * by itself; with plain BaseCache use, call it from your own error handling if you retry.
   */
  release(prompt: string, llmKey: string): void {
    try {
      this.manager.release(this.key(prompt, llmKey));
    } catch (error) {
      this.view.logger.warn(`[strata] release failed: ${errorOf(error).message}`);
    }
  }

  async update(prompt: string, llmKey: string, value: Generation[]): Promise<void> {
    if (this.view.store.mode === 'no-store' || this.view.store.mode === 'only-if-cached') return;
    try {
      if (!this.identified(llmKey, false)) return;
      // The attached model's run handler stored this answer already (run-handler.ts).
      if (this.view.ledger?.takeStored(prompt, llmKey)) return;
      // Nothing to answer with: not an entry, but whoever waits for one must stop waiting.
      if (!Array.isArray(value) || value.length === 0) return this.release(prompt, llmKey);
      const { tags, metadata } = this.view.store;
      const ttlSeconds =
        this.view.store.ttlSeconds === undefined ? this.view.defaultTtlSeconds : this.view.store.ttlSeconds;
      const write: WriteOptions = { ttlMs: ttlSeconds === null ? null : ttlSeconds * 1000 };
      if (tags) write.tags = tags;
      if (metadata) write.metadata = metadata;
      await this.manager.update(this.key(prompt, llmKey), value.map(toStored), write);
    } catch (error) {
      this.view.logger.warn(`[strata] update failed, answer not cached: ${errorOf(error).message}`);
    }
  }

  /**
   * Reports a wrong semantic answer: the stored entry that answered this prompt is never used for
   * another prompt again. Returns how many similarity tiers took an entry out.
   */
  markBad(prompt: string, llmKey: string): Promise<number> {
    assertStrings('markBad', prompt, llmKey);
    return this.manager.markBad(this.key(prompt, llmKey));
  }

  /** Removes one entry from every tier; returns how many tiers held it. */
  delete(prompt: string, llmKey: string): Promise<number> {
    assertStrings('delete', prompt, llmKey);
    return this.manager.delete(this.key(prompt, llmKey));
  }

  /** Clears this view's namespace (or another one, or all); returns entries removed across tiers. */
  clear(options: ClearOptions = {}): Promise<number> {
    if (options.all) return this.manager.clear();
    const namespace = options.namespace ?? this.view.namespace;
    const problem = validateNamespace(namespace);
    if (problem) throw viewError('clear.namespace', `${problem} (got ${JSON.stringify(namespace)})`);
    return this.manager.clear(namespace);
  }

  /** Removes every entry carrying this tag in this view's namespace (or in all, with allNamespaces). */
  invalidateTag(tag: string, options: { allNamespaces?: boolean } = {}): Promise<number> {
    if (typeof tag !== 'string' || tag.length === 0)
      throw new TypeError('invalidateTag: tag must be a non-empty string');
    return this.manager.invalidateTag(tag, options.allNamespaces ? undefined : this.view.namespace);
  }

  /** A view of the same tiers and connections whose keys live in another namespace. */
  withNamespace(namespace: string): StrataCache {
    const problem = validateNamespace(namespace);
    if (problem) throw viewError('withNamespace', `${problem} (got ${JSON.stringify(namespace)})`);
    return new StrataCache(this.manager, { ...this.view, namespace });
  }

  /**
   * Makes this view the model's cache, with the model's identity in every key (its class,
   * invocation parameters and configuration: model name, sampling parameters, endpoint, region),
   * and tells the cache when one of its calls fails (so nobody waits for it) or succeeds inside a
   * batch that fails (so that answer is kept). Returns the model:
   * `const model = cache.attach(new ChatGroq({ model: 'llama-3.1-8b-instant' }))`.
   * Needed for the plain `cache` option of every class whose llmKey names no model or endpoint.
   */
  attach<M extends AttachableModel>(model: M): M {
    if (model === null || typeof model !== 'object' || typeof model.invoke !== 'function')
      throw viewError('attach', 'expects a LangChain chat model or LLM instance');
    const current = model.cache;
    if (current instanceof StrataCache && current.view.model === model) {
      // A model has one cache: attached to a second view, the first would silently see the second's entries.
      if (
        current.manager === this.manager &&
        current.view.namespace === this.view.namespace &&
        current.view.store === this.view.store
      )
        return model;
      throw viewError(
        'attach',
        `this model instance is already attached to a cache view (namespace ${JSON.stringify(current.view.namespace)}); attach one model instance per view`,
      );
    }
    noteModel(model);
    const ledger = new RunLedger();
    const view = new StrataCache(this.manager, { ...this.view, model, ledger });
    model.cache = view;
    attachRunHandler(model, ledger, {
      storeFromRun: async (prompt, llmKey, generations) => {
        await view.update(prompt, llmKey, generations);
        ledger.storedFromRun(prompt, llmKey);
      },
      release: (prompt, llmKey) => view.release(prompt, llmKey),
    });
    return model;
  }

  /** A view that stores the next updates with these tags, TTL and metadata. */
  withOptions(store: StoreOptions): StrataCache {
    const ttl = store.ttlSeconds;
    if (ttl !== undefined && ttl !== null && !(ttl > 0 && ttl <= MAX_TTL_SECONDS)) {
      throw viewError(
        'withOptions.ttlSeconds',
        `must be a positive number of seconds up to ${MAX_TTL_SECONDS} (10 years), or null (got ${ttl})`,
      );
    }
    // What an entry may carry is what an export of it may carry (core/entry-schema.ts): a write
    // the import would refuse is refused here, where the caller can still fix it.
    if (store.tags) {
      if (!store.tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_TAG_LENGTH))
        throw viewError('withOptions.tags', `every tag must be a string of 1-${MAX_TAG_LENGTH} characters`);
      if (store.tags.length > MAX_TAGS) throw viewError('withOptions.tags', `at most ${MAX_TAGS} tags`);
      if (new Set(store.tags).size !== store.tags.length)
        throw viewError('withOptions.tags', 'must not repeat a tag');
    }
    assertMode(store.mode, 'withOptions.mode');
    if (store.semanticQuery !== undefined && typeof store.semanticQuery !== 'function')
      throw viewError('withOptions.semanticQuery', 'must be a function (prompt) => question | undefined');
    return new StrataCache(this.manager, { ...this.view, store: { ...this.view.store, ...store } });
  }

  stats(): Promise<StatsReport> {
    return this.manager.stats();
  }

  health(): Promise<HealthReport> {
    return this.manager.health();
  }

  /** Closes the shared tiers: every view of this cache stops working. */
  close(): Promise<void> {
    return this.manager.close();
  }

  /**
   * @internal The manager underneath, for Strata's own tools that work below LangChain (CLI,
   * monitor) and for tests. Not part of the public API: it may change in any release.
   */
  get internals(): Manager {
    return this.manager;
  }

  on<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this {
    this.manager.events.on(event, listener as never);
    return this;
  }

  off<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this {
    this.manager.events.off(event, listener as never);
    return this;
  }

  once<E extends keyof CacheEvents>(event: E, listener: (...args: CacheEvents[E]) => void): this {
    this.manager.events.once(event, listener as never);
    return this;
  }
}
