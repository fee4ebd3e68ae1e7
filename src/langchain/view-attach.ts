/**
 * `cache.attach(model)`: the model gets a view of its own, with its identity in every key and a
 * run handler that tells the view when one of its calls fails (so nobody waits for it) or
 * succeeds inside a batch that fails (so that answer is kept).
 */
import type { Generation } from '@langchain/core/outputs';
import type { Strata } from '../engine/strata.js';
import { noteModel } from './model-identity.js';
import { type AttachableModel, attachRunHandler, RunLedger } from './run-handler.js';
import { type View, viewError } from './view-options.js';

/** What attach() makes: a view that stores and releases. */
interface AttachedView {
  update(prompt: string, llmKey: string, value: Generation[]): Promise<void>;
  release(prompt: string, llmKey: string): void;
}

/** The view each attached model was given, with what it was made from. */
const attachments = new WeakMap<object, { cache: unknown; strata: Strata; view: View }>();

export function attachModel<M extends AttachableModel>(
  model: M,
  strata: Strata,
  from: View,
  makeView: (view: View) => AttachedView,
): M {
  if (model === null || typeof model !== 'object' || typeof model.invoke !== 'function')
    throw viewError('attach', 'expects a LangChain chat model or LLM instance');
  const current = attachments.get(model);
  if (current && model.cache === current.cache) {
    // A model has one cache: attached to a second view, the first would silently see the second's entries.
    const { view } = current;
    if (current.strata === strata && view.namespace === from.namespace && view.store === from.store)
      return model;
    throw viewError(
      'attach',
      `this model instance is already attached to a cache view (namespace ${JSON.stringify(view.namespace)}); attach one model instance per view`,
    );
  }
  noteModel(model);
  const ledger = new RunLedger();
  const view = makeView({ ...from, model, ledger });
  model.cache = view;
  attachments.set(model, { cache: view, strata, view: from });
  attachRunHandler(model, ledger, {
    storeFromRun: async (prompt, llmKey, generations) => {
      await view.update(prompt, llmKey, generations);
      ledger.storedFromRun(prompt, llmKey);
    },
    release: (prompt, llmKey) => view.release(prompt, llmKey),
  });
  return model;
}
