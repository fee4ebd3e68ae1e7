/**
 * How a view's lookups are answered, wait and group: the engine's hit as LangChain generations, how long a lookup may wait for another caller's answer
 * to the same key (core/options.ts `wait`), and which lookups are one LangChain batch, answered
 * together (batch-answers.ts).
 */
import type { Generation } from '@langchain/core/outputs';
import type { Hit } from '../core/events.js';
import type { CacheKey } from '../core/key.js';
import type { LookupOptions } from '../core/options.js';
import type { StaleOptions } from '../core/stale.js';
import type { Strata } from '../engine/strata.js';
import { answeredTogether } from './batch-answers.js';
import { generationsOf } from './generations.js';
import type { LookupResult, View } from './view-options.js';

/** The engine's answer to a key as LangChain generations; throws if they cannot be built. */
export async function lookupResult(
  strata: Strata,
  key: CacheKey,
  options: LookupOptions,
): Promise<LookupResult | null> {
  return asLookupResult(strata, key, await strata.lookup(key, options));
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
const PLAIN: LookupOptions = { wait: 'measured' };
/** An attached model's lookup: its failures are reported (run-handler.ts), so it waits as withCache does. */
const ATTACHED: LookupOptions = { wait: 'lease' };
/** A repeat of a key earlier in the caller's own batch. */
const REPEAT: LookupOptions = { wait: 'never' };

/** How a lookup of LangChain's plain path may wait for another caller's answer to the same key. */
export function plainWait(view: View, prompt: string, llmKey: string): LookupOptions {
  const ledger = view.ledger;
  if (!ledger) return PLAIN;
  return ledger.takeRepeat(prompt, llmKey) ? REPEAT : ATTACHED;
}

/**
 * A lookup LangChain may have made as part of a generate() batch: answered together with the
 * others (batch-answers.ts), since LangChain misplaces the hits of a batch that also has misses.
 */
export function asBatch(
  strata: Strata,
  view: View,
  prompt: string,
  llmKey: string,
  found: Promise<Generation[] | null>,
): Promise<Generation[] | null> {
  if (!mayBeBatched(view, prompt, llmKey)) return found;
  return answeredTogether(`${view.namespace}\u0000${llmKey}`, found, (withheld) =>
    strata.withholdHits(withheld),
  );
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
