/**
 * What a StrataCache view is, and what may be asked of one: its per-view options
 * (CacheDirectives, as LangChain's cache hook uses them) and their validation, done when the
 * view is made, where the caller can still fix it.
 */
import type { Generation } from '@langchain/core/outputs';
import { MAX_TTL_SECONDS } from '../config/fields.js';
import type { CacheDirectives } from '../core/directives.js';
import { MAX_TAG_LENGTH, MAX_TAGS } from '../core/entry-schema.js';
import type { Logger } from '../core/events.js';
import { validateNamespace } from '../core/key.js';
import { StrataConfigError } from '../errors.js';
import { assertMode } from './modes.js';
import type { RunLedger } from './run-handler.js';

export interface StoreOptions
  extends Pick<CacheDirectives, 'tags' | 'ttlSeconds' | 'metadata' | 'mode' | 'staleIfErrorSeconds'> {
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

export interface View {
  readonly namespace: string;
  readonly store: StoreOptions;
  readonly defaultTtlSeconds: number | null;
  readonly logger: Logger;
  /** Whether createCache opened the engine (from a config), and so close() closes it. */
  readonly ownsEngine: boolean;
  /** The model this view is attached to: its identity is part of every key. */
  readonly model?: object;
  /** The attached model's keys that missed, for its run handler (run-handler.ts). */
  readonly ledger?: RunLedger;
}

export function viewError(path: string, message: string): StrataConfigError {
  return new StrataConfigError([{ path, message }]);
}

export function assertStrings(method: string, prompt: unknown, llmKey: unknown): void {
  if (typeof prompt !== 'string') throw viewError(`${method}.prompt`, 'must be a string');
  if (typeof llmKey !== 'string') throw viewError(`${method}.llmKey`, 'must be a string');
}

/** The namespace, if a view may use it. */
export function checkedNamespace(path: string, namespace: string): string {
  const problem = validateNamespace(namespace);
  if (problem) throw viewError(path, `${problem} (got ${JSON.stringify(namespace)})`);
  return namespace;
}

export function checkedTag(tag: string): string {
  if (typeof tag !== 'string' || tag.length === 0)
    throw viewError('invalidateTag.tag', 'must be a non-empty string');
  return tag;
}

/** Refuses options a view must not be made with (`withOptions`). */
export function assertStoreOptions(store: StoreOptions): void {
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
  assertStaleIfError(store.staleIfErrorSeconds, 'withOptions.staleIfErrorSeconds');
  if (store.semanticQuery !== undefined && typeof store.semanticQuery !== 'function')
    throw viewError('withOptions.semanticQuery', 'must be a function (prompt) => question | undefined');
}

/** Refuses a stale-if-error grace that is not 0 or a positive number of seconds up to ten years. */
export function assertStaleIfError(seconds: unknown, path: string): void {
  if (seconds === undefined) return;
  if (typeof seconds !== 'number' || !(seconds >= 0 && seconds <= MAX_TTL_SECONDS))
    throw viewError(
      path,
      `must be 0 (none) or a positive number of seconds up to ${MAX_TTL_SECONDS} (got ${String(seconds)})`,
    );
}

export interface LookupResult {
  generations: Generation[];
  tier: string;
  ageSeconds: number;
  coalesced: boolean;
  /** For an answer from a semantic tier: how similar the cached prompt is, and what it was. */
  similarity?: number;
  matchedPrompt?: string;
  /** An expired answer served because the model call failed (stale-if-error). */
  stale?: boolean;
}
