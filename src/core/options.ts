/** What the manager is told: how to run (ManagerOptions), and per call (LookupOptions, WriteOptions). */
import type { Clock } from './clock.js';
import type { Answer } from './entry.js';
import type { Logger } from './events.js';

export interface ManagerOptions {
  clock: Clock;
  /** How long concurrent misses of one key wait for the first caller's answer; 0 disables coalescing. */
  coalesceWaitMs: number;
  storePrompt: boolean;
  logger: Logger;
  /**
   * Whether the application can use an answer for this llm string (the LangChain adapter checks
   * that its generations deserialize into what the model returns). An answer it cannot use is
   * treated like a corrupt one: a miss, counted, deleted where it was found, never backfilled.
   */
  isUsable?: (answer: Answer, llmString: string) => boolean;
}

export interface LookupOptions {
  /**
   * Whether a miss makes this caller the key's leader, so concurrent lookups wait for its
   * update (default true). A caller that will not store what it computes (`no-store`,
   * `only-if-cached`) passes false: it must never make others wait.
   */
  claim?: boolean;
  /**
   * How long this caller may wait for another caller's answer to the same key. `lease` (default):
   * until the leader stores or releases, bounded by its lease (withCache and the gateway release
   * on failure). `measured`: for a caller whose failures nobody reports (LangChain's plain
   * BaseCache path): never for a lookup of the same batch, never before this model's misses have
   * been measured, and never longer than the slowest of them. `never`: not at all (a repeat of
   * a key earlier in the caller's own batch).
   */
  wait?: 'lease' | 'measured' | 'never';
}

export interface WriteOptions {
  ttlMs?: number | null;
  tags?: readonly string[];
  metadata?: Record<string, unknown>;
  /**
   * Store the prompt whole only up to this many characters; a longer one as its SHA-256 and an
   * excerpt (entry.ts `newEntry`). Unset: whole, whatever its length (the library's prompts are
   * the application's own; the gateway's are whatever a client sends).
   */
  maxPromptChars?: number;
}
