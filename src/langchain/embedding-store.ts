/**
 * createEmbeddingStore: a LangChain `BaseStore<string, Uint8Array>` on Strata's tiers, for
 * `CacheBackedEmbeddings.fromBytesStore(model, store, { namespace: model.model })`. Embedding
 * vectors then live in the cache's tiers (memory, SQLite, Redis, PostgreSQL, ...) with its TTLs,
 * statistics, events and dashboard, instead of a separate, unmonitored store.
 *
 * Each key is one entry of the engine: namespace = the store's namespace (default: the config's),
 * llm string = `_type:"strata_embeddings",store:"<name>"`, with `,model:"<model>"` when the store
 * was created for one (so an LLM's answers never share a key with a vector, and the monitor's
 * per-model rows name the embeddings model), prompt = the key (CacheBackedEmbeddings makes it its
 * own `namespace` option plus the SHA-256 of the text: the text itself is never stored). The
 * value is one text generation holding the bytes in base64, with their length in generationInfo;
 * a value that does not decode to exactly that (corrupt, written by another version) is a miss,
 * never a throw. Keys are `exact` (core/key.ts): a similarity tier in the config neither indexes
 * these entries (an embedding of a key, wasted) nor answers them (another text's vector).
 *
 * A hit carries no token usage (the store never sees the provider's bill), so the monitor counts
 * it as a hit of its model that saved 0 tokens: nothing is guessed.
 */
import { BaseStore } from '@langchain/core/stores';
import { decodeEntry, isExpired, type StoredGenerationData } from '../core/entry.js';
import type { Hit } from '../core/events.js';
import { type CacheKey, deriveKey } from '../core/key.js';
import type { LookupOptions, WriteOptions } from '../core/options.js';
import { engineOf, type Strata, type StrataSource } from '../engine/strata.js';
import { StrataConfigError, TierUnavailableError } from '../errors.js';
import { checkedNamespace } from './view-options.js';

export interface EmbeddingStoreOptions {
  /** The engine namespace the vectors live in (default: the config's namespace). */
  namespace?: string;
  /**
   * Tells two stores in one namespace apart (default "default"): it is part of every key, so a
   * store of another name never sees these vectors. Per model, set CacheBackedEmbeddings'
   * own `namespace` option to the model's name instead (see docs/langchain.md).
   */
  name?: string;
  /** Lifetime of a stored vector in seconds; null: never expires (default: the config's `defaultTtlSeconds`). */
  ttlSeconds?: number | null;
  /**
   * The embeddings model the store holds vectors of (`model.model`): the monitor's per-model
   * rows (savings, top models) then name it, where they otherwise say `unknown`. Part of every
   * key, so two models never share a vector here; adding it later re-embeds once.
   */
  model?: string;
}

/** Marks a generation as this store's value, and the version of its format. */
const FORMAT = 'strata-embedding-bytes/1';
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;
/** Canonical base64 (what Buffer writes): Buffer.from would also accept much that is not. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A LangChain byte store over this cache's engine (`createCache(...)`, its `.strata`, or
 * `createStrata(...)`). The engine stays its opener's: close that, not the store.
 */
export function createEmbeddingStore(
  source: StrataSource,
  options: EmbeddingStoreOptions = {},
): StrataEmbeddingStore {
  return new StrataEmbeddingStore(engineOf(source), options);
}

export class StrataEmbeddingStore extends BaseStore<string, Uint8Array> {
  lc_namespace = ['strata', 'storage'];
  readonly namespace: string;
  private readonly llmString: string;
  private readonly write: WriteOptions;

  /** @internal use createEmbeddingStore(). */
  constructor(
    readonly strata: Strata,
    options: EmbeddingStoreOptions,
  ) {
    super();
    this.namespace = checkedNamespace(
      'createEmbeddingStore.namespace',
      options.namespace ?? strata.namespace,
    );
    const name = options.name ?? 'default';
    if (typeof name !== 'string' || name.length === 0 || name.length > 200)
      throw new StrataConfigError([
        {
          path: 'createEmbeddingStore.name',
          message: `must be a string of 1-200 characters (got ${String(name)})`,
        },
      ]);
    const model = options.model;
    if (model !== undefined && !isModelName(model))
      throw new StrataConfigError([
        {
          path: 'createEmbeddingStore.model',
          message: `must be a model name of 1-200 characters without quotes, backslashes or control characters (got ${String(model)})`,
        },
      ]);
    this.llmString = `_type:"strata_embeddings",store:${JSON.stringify(name)}${model === undefined ? '' : `,model:${JSON.stringify(model)}`}`;
    const ttl = options.ttlSeconds === undefined ? strata.defaultTtlSeconds : options.ttlSeconds;
    if (ttl !== null && !(typeof ttl === 'number' && ttl > 0 && ttl <= MAX_TTL_SECONDS))
      throw new StrataConfigError([
        {
          path: 'createEmbeddingStore.ttlSeconds',
          message: `must be a positive number of seconds up to ${MAX_TTL_SECONDS} (10 years), or null (got ${String(ttl)})`,
        },
      ]);
    this.write = { ttlMs: ttl === null ? null : ttl * 1000 };
  }

  /**
   * The values of these keys, in their order; undefined for a key not cached, expired, unreadable,
   * or whose tiers are down. One engine lookup per key, all at once (the engine has no batch
   * lookup); each is counted as a hit or a miss like any lookup.
   */
  async mget(keys: string[]): Promise<(Uint8Array | undefined)[]> {
    assertKeys('mget', keys);
    // No claim: a caller of a byte store never promises to store what it misses, so no other
    // caller may be made to wait for it.
    const lookup: LookupOptions = { claim: false, wait: 'never' };
    return Promise.all(
      keys.map((k) => {
        const key = this.key(k);
        return this.strata.lookup(key, lookup).then(
          (hit) => bytesOf(hit, key),
          () => undefined,
        );
      }),
    );
  }

  /** Stores every pair in every tier, with the store's TTL. A tier that fails is skipped (counted, logged once). */
  async mset(keyValuePairs: [string, Uint8Array][]): Promise<void> {
    if (!Array.isArray(keyValuePairs))
      throw new TypeError('mset(keyValuePairs): must be an array of [key, bytes]');
    for (const pair of keyValuePairs) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || !(pair[1] instanceof Uint8Array))
        throw new TypeError('mset(keyValuePairs): every pair must be [string, Uint8Array]');
    }
    await Promise.all(
      keyValuePairs.map(([k, bytes]) => this.strata.update(this.key(k), [generationOf(bytes)], this.write)),
    );
  }

  /**
   * Removes these keys from every tier. Rejects with IncompleteOperationError when a tier could
   * not (the engine retries it in the background while it stays open): a deletion is never
   * silently lost.
   */
  async mdelete(keys: string[]): Promise<void> {
    assertKeys('mdelete', keys);
    const results = await Promise.allSettled(keys.map((k) => this.strata.delete(this.key(k))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * The live keys of this store (its namespace and name) that start with `prefix`, each once,
   * read from every tier's listing (the union: a memory tier may hold fewer than SQLite).
   * Complete or it throws, after yielding what it could:
   * - TierUnavailableError when a tier's listing failed (down, timed out): keys only that tier
   *   holds may be missing;
   * - StrataConfigError (`storePrompt`) when entries were stored with `storePrompt: false`:
   *   those keep only a digest of their key, which cannot be listed.
   * A listing reads every entry of the namespace: meant for maintenance, not the request path.
   */
  async *yieldKeys(prefix = ''): AsyncGenerator<string> {
    const seen = new Set<string>();
    const failures: string[] = [];
    let unlisted = 0;
    const now = this.strata.now();
    for (const tier of this.strata.tierNames) {
      const listing = this.strata.queries.entries(tier, this.namespace);
      if (!listing) continue;
      for await (const listed of listing) {
        if (seen.has(listed.hash)) continue;
        const entry = decodeEntry(listed.payload);
        if (!entry || entry.llm !== this.llmString || entry.ns !== this.namespace || isExpired(entry, now))
          continue;
        seen.add(listed.hash);
        if (entry.prompt === undefined) {
          unlisted++;
          continue;
        }
        if (entry.prompt.startsWith(prefix)) yield entry.prompt;
      }
      if (listing.failure !== undefined) failures.push(`tier ${tier} (${listing.failure})`);
    }
    if (failures.length > 0)
      throw new TierUnavailableError(
        `yieldKeys: the listing of ${failures.join('; ')} failed, so keys only it holds may be missing from what was yielded`,
      );
    if (unlisted > 0)
      throw new StrataConfigError([
        {
          path: 'storePrompt',
          message: `is false, so ${unlisted} keys of this store are kept only as their SHA-256 and yieldKeys could not list them`,
        },
      ]);
  }

  private key(k: string): CacheKey {
    return { ...deriveKey(this.namespace, this.llmString, k), exact: true };
  }
}

/** A model name that reads back out of the llm string as itself (savings.ts, modelOf). */
function isModelName(model: unknown): model is string {
  if (typeof model !== 'string' || model.length === 0 || model.length > 200) return false;
  for (const c of model) if (c < ' ' || c === '"' || c === '\\') return false;
  return true;
}

function assertKeys(method: string, keys: unknown): asserts keys is string[] {
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))
    throw new TypeError(`${method}(keys): must be an array of strings`);
}

function generationOf(bytes: Uint8Array): StoredGenerationData {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  return { text, generationInfo: { format: FORMAT, bytes: bytes.byteLength } };
}

/**
 * The bytes a hit holds, or undefined when it is not exactly one value of this format, or not
 * this key's own entry (the keys are exact, so no similarity tier is asked; this holds anyway).
 */
function bytesOf(hit: Hit | undefined, key: CacheKey): Uint8Array | undefined {
  if (!hit || hit.entry.k !== key.hash) return undefined;
  const gens = hit.entry.gens;
  if (gens.length !== 1) return undefined;
  const { text, generationInfo: info } = gens[0]!;
  if (info?.format !== FORMAT || typeof info.bytes !== 'number') return undefined;
  if (typeof text !== 'string' || !BASE64.test(text)) return undefined;
  const decoded = Buffer.from(text, 'base64');
  if (decoded.byteLength !== info.bytes) return undefined;
  // A plain Uint8Array of its own: nothing the caller does to it reaches the cache.
  return new Uint8Array(decoded);
}
