/**
 * Labels: what the semantic tier learns its error bound from (docs/semantic-bound.md). A label
 * says whether one cached entry's answer was right for one other question that came within
 * `similarity` of it. Labels are the only state of the learner: the model is a fold over them, so
 * what a store keeps is the log, and every process sharing the store folds the same log.
 */
import type { LabelSource } from '../../../core/tier.js';

/**
 * Where a label came from:
 * - `free`: a miss near an entry; its fresh answer is compared with the entry's (no extra model call);
 * - `exploration`: a candidate the tier would have served, sent to the model instead to check it
 *   (counted, budgeted);
 * - `feedback`: a client said so (`markBad` / `markGood`, `cache.feedback`, the gateway's
 *   `x-strata-feedback` header);
 * - `background`: the user's background judge, after the response, on a pair the default judge
 *   could not decide.
 */
export { LABEL_SOURCES, type LabelSource } from '../../../core/tier.js';

export interface Label {
  /**
   * What the label teaches: (namespace, llm string), length-prefixed (`scopeOf`). Another model
   * answers differently, so a model change starts afresh; the embedder is the store's (one table,
   * or one `embedder` column value, per embedder).
   */
  scope: string;
  namespace: string;
  /** Key hash of the cached entry that was (or would have been) the answer. */
  entry: string;
  /** Cosine similarity of the asking question to the entry's question. */
  similarity: number;
  /** True when the entry's answer was wrong for the asking question. */
  wrong: boolean;
  source: LabelSource;
  /** Epoch ms. */
  at: number;
  /**
   * Under `encryption`: the label's fields sealed as associated data of an empty text by the
   * config's keys (learner.ts `proved`), so a label planted in the store by someone without the
   * keys is never learned. Absent without encryption.
   */
  proof?: string;
}

/** A label as a store hands it back: `id` grows in the order labels were appended (across processes). */
export interface LoggedLabel extends Label {
  id: number;
}

/**
 * The part of a semantic store that keeps labels (stores/store.ts extends it). Appending is the
 * only write; readers follow the log by id, so a fleet on a shared store learns from every
 * process's labels.
 */
export interface LabelLog {
  /** Appends labels, in order. */
  appendLabels(labels: readonly Label[]): Promise<void> | void;
  /** Labels with id > `after`, in id order, at most `limit`. */
  labelsAfter(after: number, limit: number): Promise<LoggedLabel[]> | LoggedLabel[];
}

/** Length-prefixed, so no namespace / llm string pair can spell another's scope. */
export function scopeOf(namespace: string, llmString: string): string {
  return `${namespace.length}:${namespace}${llmString.length}:${llmString}`;
}
