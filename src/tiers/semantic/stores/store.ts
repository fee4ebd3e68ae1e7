/**
 * Where a semantic tier keeps its entries and finds the nearest ones: the local store (a SQLite
 * file and an in-process index, local-store.ts) or the shared one (PostgreSQL with pgvector,
 * postgres-store.ts). The tier (index.ts) does everything else the same way for both: splitting
 * the request, embedding, the threshold, the guards, the verifier, markBad's bookkeeping.
 */
import type { ListedEntry, MaybePromise } from '../../../core/tier.js';
import type { LabelLog } from '../bound/labels.js';
import type { Vector } from '../vectors/vector.js';

/** One stored question and what it answers, as the tier hands it to a store. */
export interface Question {
  /** The key hash of the request that stored it. */
  hash: string;
  namespace: string;
  llmString: string;
  prompt: string;
  /** The question the entry answers: what is embedded and what the guards compare. */
  query: string;
  /** Digest of everything in the request but the question (question/request.ts). */
  context: string;
  /** (namespace, llm string, context): a search never leaves it. */
  partition: string;
  createdAt: number;
  expiresAt: number | null;
  tags: string[];
  size: number;
}

/** A stored entry near a query, best first. */
export interface Candidate {
  hash: string;
  prompt: string;
  query: string;
  /** Cosine similarity to the query. */
  score: number;
  expiresAt: number | null;
}

/** Which entries a removal takes: all of them when no field is given. */
export interface Selection {
  namespace?: string;
  tag?: string;
  /** Entries expired at this time (epoch ms). */
  expiredAt?: number;
}

/** What a rekey rewrites of one entry, all at once: its payload and the text the tier sealed. */
export interface StoredTexts {
  payload: string;
  prompt: string;
  query: string;
}

export interface StoreCounts {
  entries: number;
  bytes: number;
  partitions: number;
  markedBad: number;
}

/** The newest labels a store keeps (per embedder); older ones are dropped at each purge. */
export const MAX_LABELS = 200_000;

/**
 * A store keeps the tier's entries and, for `maxErrorRate`, its label log (bound/labels.ts): in
 * the same file or database, so a fleet on a shared store shares what it learned too.
 */
export interface SemanticStore extends LabelLog {
  /** The `k` nearest entries of a partition, best first; a store may leave out those expired at `now` (the tier skips them anyway). */
  nearest(partition: string, vector: Vector, k: number, now: number): MaybePromise<Candidate[]>;
  payload(hash: string): MaybePromise<string | undefined>;
  /** Stores (or replaces) the entry of `question.hash`; a replaced entry is matched again even if it was marked bad. */
  put(question: Question, vector: Vector, payload: string): MaybePromise<void>;
  delete(hash: string): MaybePromise<boolean>;
  /** Takes the entry out of similarity matching for good; false if there is none. */
  markBad(hash: string): MaybePromise<boolean>;
  remove(selection: Selection): MaybePromise<number>;
  /** The prompt and question text of a live entry (not marked bad), as stored; undefined if there is none. */
  texts(hash: string): MaybePromise<Pick<StoredTexts, 'prompt' | 'query'> | undefined>;
  /**
   * Compare-and-set (`strata rekey`): writes `next` over the live entry of `hash` only if it still
   * holds exactly `expected` (payload and text), in one statement; false when it was deleted,
   * marked bad or rewritten meanwhile. Vector, expiry and tags do not change.
   */
  replace(hash: string, expected: StoredTexts, next: StoredTexts): MaybePromise<boolean>;
  entries(namespace?: string): AsyncIterable<ListedEntry>;
  counts(): MaybePromise<StoreCounts>;
  /** Throws when the store cannot be used now. */
  check(): MaybePromise<void>;
  close(): MaybePromise<void>;
}

/** Length-prefixed, so no namespace / llm string pair can spell another's partition; the context digest (hex) ends it. */
export function partitionOf(namespace: string, llmString: string, context: string): string {
  return `${namespace.length}:${namespace}${llmString.length}:${llmString}\n${context}`;
}
