/**
 * Which model answers, as a view judges it before any lookup or store (model-identity.ts does
 * the reading): a view attached to a model adds the instance's identity to every key; without
 * one, an llmKey that does not name the model and its endpoint is refused (not cached, counted,
 * said once per kind of model).
 */
import { type CacheKey, deriveKey } from '../core/key.js';
import type { Strata } from '../engine/strata.js';
import { identityPair, llmTypeOf, unidentifiedModel } from './model-identity.js';
import type { View } from './view-options.js';

/** The identity identified() read for an attached model, taken by the viewKey() call right after it (same tick). */
let checked: { model: object; pair: string } | undefined;

/** Judgements of llmKeys seen without a model instance (few distinct ones per process; bounded). */
const judged = new Map<string, string | undefined>();
function unidentified(llmKey: string): string | undefined {
  if (judged.has(llmKey)) return judged.get(llmKey);
  const problem = unidentifiedModel(llmKey);
  if (judged.size >= 512) judged.delete(judged.keys().next().value!);
  judged.set(llmKey, problem);
  return problem;
}

/** The key of a prompt in this view: its namespace, the llmKey (with the attached model's identity), the question. */
export function viewKey(view: View, prompt: string, llmKey: string): CacheKey {
  const model = view.model;
  const key = deriveKey(view.namespace, model ? `${llmKey},${takeIdentity(model)}` : llmKey, prompt);
  const extract = view.store.semanticQuery;
  return extract ? { ...key, question: extract(prompt) ?? '' } : key;
}

/**
 * Whether this view can tell which model answers for this llmKey: always when attached to a
 * model or when the key carries withCache's identity; otherwise when the llmKey names the model
 * and its endpoint. A refused lookup is counted; the class is named once, with the fix.
 */
export function identified(strata: Strata, view: View, llmKey: string, lookup: boolean): boolean {
  const model = view.model;
  let problem: string | undefined;
  if (model) {
    try {
      // Kept for the viewKey() that follows at once: the identity is read once per call.
      checked = { model, pair: identityPair(model, {}) };
      return true;
    } catch (error) {
      problem = (error as Error).message;
    }
  } else problem = unidentified(llmKey);
  if (problem === undefined) return true;
  refuse(strata, llmKey, problem, lookup, view.model !== undefined);
  return false;
}

/** The attached model's identity pair: the one identified() just read, else read now. */
function takeIdentity(model: object): string {
  const pair = checked?.model === model ? checked.pair : identityPair(model, {});
  checked = undefined;
  return pair;
}

/** A call whose model could not be identified: not cached; counted, and said once per kind and type. */
export function refuse(
  strata: Strata,
  llmKey: string,
  problem: string,
  lookup: boolean,
  hasModel: boolean,
): void {
  const { type, kind } = llmTypeOf(llmKey);
  const message = hasModel
    ? `not caching calls of the ${kind} whose LangChain type is "${type}" (its _llmType()): Strata cannot establish which model answers, because ${problem}; the model answers every call itself`
    : `not caching calls of the ${kind} whose LangChain type is "${type}" (its _llmType()): the llmKey LangChain gives a cache for it does not establish which model answers (${problem}), ` +
      'so two models (or two temperatures, endpoints or regions) could share answers. ' +
      'Attach the cache to the model instead: `const model = cache.attach(new YourModelClass({ ... }))`, or use withCache(model, cache).';
  strata.refuseUnidentified(`${kind}:${type}:${hasModel}`, message, lookup);
}
