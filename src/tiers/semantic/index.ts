/**
 * Semantic tier: answers a request with the entry of an earlier request that asked a similar
 * question in the same context, if it is similar enough and no precision guard objects. Placed
 * after the exact tiers, it only sees what they missed.
 *
 * Each request is split into its question and its context (question/request.ts): system prompts,
 * history, tools and retrieved documents are context and must be identical; only the question
 * is embedded and compared. Entries are partitioned by (namespace, sanitized llm string, context
 * digest): a search never looks at another tenant's, another model's or another conversation's
 * questions. A request with no question, or one longer than `maxQueryChars` or than the embedder
 * can see, is not matched by similarity at all (counted by reason). Neither is a question with
 * Unicode tag characters (hidden text); other invisible characters are taken out of the question
 * and made part of its context (question/unicode.ts, `split` below).
 *
 * Where entries live is the store's business (stores/store.ts): a local SQLite file with an
 * in-process index (stores/local-store.ts), or PostgreSQL with pgvector shared by every process
 * (stores/postgres-store.ts).
 */
import type { Clock } from '../../core/clock.js';
import { isSealed, type Sealer, sealedKeyId } from '../../core/encryption/keyring.js';
import { promptExcerpt, STORED_PROMPT_CHARS, type StoredEntry } from '../../core/entry.js';
import type { CacheKey } from '../../core/key.js';
import type {
  EntryRef,
  ListedEntry,
  MaybePromise,
  SimilarMatch,
  Tier,
  TierCall,
  TierHealth,
  TierStats,
} from '../../core/tier.js';
import { type AnswerJudge, type BackgroundJudge, defaultJudge } from './bound/judge.js';
import { type Answered, Learner } from './bound/learner.js';
import type { SemanticTierConfig } from './config.js';
import type { Embedder } from './embedders/embedder.js';
import type { Verifier } from './embedders/verifier.js';
import { type GuardName, refusingGuard } from './guards/guards.js';
import { contextDigest, type QueryExtractor, splitRequest } from './question/request.js';
import { hasInvisible, separateInvisible } from './question/unicode.js';
import { LocalStore } from './stores/local-store.js';
import { type Candidate, partitionOf, type SemanticStore } from './stores/store.js';
import type { VectorIndexOptions } from './vectors/neighbours.js';

export type { Verifier } from './embedders/verifier.js';

/**
 * The fields of config.ts that the driver takes as they are, and what tiers/index.ts builds from
 * the rest: the embedder (from `embeddings` and `modelPath`), the resolved threshold, the verifier
 * function, the query extractor (from `queryPattern`) and the purge period in ms.
 */
export type SemanticTierOptions = Pick<
  SemanticTierConfig,
  'thresholds' | 'path' | 'maxEntries' | 'candidates'
> &
  Partial<Pick<SemanticTierConfig, 'maxQueryChars'>> & {
    name?: string;
    embedder: Embedder;
    /** Cosine similarity a candidate must reach, from -1 to 1. */
    threshold: number;
    guards: readonly GuardName[];
    /** Last word on a candidate that passed threshold and guards (e.g. an LLM judge). */
    verifier?: Verifier;
    /** Says which part of every prompt is the question (config `queryPattern`). */
    extractQuery?: QueryExtractor;
    /** Background purge of expired entries; 0 = off. */
    purgeIntervalMs?: number;
    index?: VectorIndexOptions;
    clock: Clock;
    /** Inspecting commands: the saved graphs are not written. */
    readonly?: boolean;
    /** A failure outside a tier call (saving the graphs): counted and logged like one. */
    onClientError?: (error: Error) => void;
    /** How far indexing the stored entries at open has come (TierContext.onProgress). */
    onProgress?: (task: string, done: number, total: number) => void;
    /** A saved index refused or repaired at open (TierContext.warn). */
    onWarning?: (message: string) => void;
    /** Where entries live instead of the local file at `path` (tiers/index.ts builds it from `store`). */
    store?: SemanticStore;
    /**
     * Under `encryption`: seals the prompt and question text the store keeps (the manager seals
     * the payload). The vectors stay readable: docs/encryption.md says what they give away.
     */
    sealer?: Sealer;
    /**
     * The bound δ (docs/semantic-bound.md): at most this share of similarity hits may be wrong;
     * the tier learns when a candidate may answer, and `threshold` becomes the floor below which
     * nothing is. Unset: the fixed threshold decides, as before.
     */
    maxErrorRate?: number;
    /** δ per namespace (a namespace not listed uses `maxErrorRate`, or the fixed threshold). */
    maxErrorRates?: Record<string, number>;
    /** At most this share of a bounded namespace's lookups are spent exploring (`0.05`). */
    explorationBudget?: number;
    /** Decides labels (default: bound/judge.ts `defaultJudge` with the tier's embedder). */
    judge?: AnswerJudge;
    /** Decides, after the response, the pairs the judge was unsure of (an LLM, a cross-encoder). */
    backgroundJudge?: BackgroundJudge;
    /** Exploration's coin (tests and benchmarks pass a seeded one). */
    random?: () => number;
    /** How often other processes' labels are read from a shared store (`1000`; 0 = only after writing). */
    labelRefreshMs?: number;
    /** Last at close: releases what the tier was built with and owns (definition.ts: its onnx models). */
    release?: () => Promise<void>;
  };

/**
 * A question longer than this is mostly pasted material (code, an e-mail, retrieved documents)
 * that would dominate its vector: two different instructions about the same paste look alike.
 */
export const DEFAULT_MAX_QUERY_CHARS = 500;
/** Why a request was not matched by similarity at all (as opposed to a guard refusing a candidate). */
const NOT_MATCHED = new Set(['no-question', 'tag-characters', 'query-too-long', 'unseen-by-embedder']);
export class SemanticTier implements Tier {
  readonly name: string;
  readonly type = 'semantic';
  private readonly store: SemanticStore;
  /**
   * Which stored entry answered each recent query, and how close it was, so feedback can find it;
   * `told` once a client's word on that answer was taken (one label per answer, however often it is
   * repeated: a double click or a retry loop must not outvote other answers' labels).
   */
  private readonly answeredBy = new Map<string, { entry: string; similarity: number; told?: true }>();
  /** Under `maxErrorRate(s)`: what decides bounded namespaces' hits (bound/learner.ts). */
  private readonly learner: Learner | undefined;
  private readonly refusals: Record<string, number> = {};
  private readonly notMatched: Record<string, number> = {};
  private verifierRefusals = 0;
  /** Candidates skipped because their sealed text did not open (another key, another row, tampered). */
  private unopened = 0;
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SemanticTierOptions) {
    this.name = options.name ?? 'semantic';
    this.store =
      options.store ??
      new LocalStore({
        path: options.path,
        embedderId: options.embedder.id,
        maxEntries: options.maxEntries,
        ...(options.index ? { index: options.index } : {}),
        ...(options.readonly ? { readonly: true } : {}),
        ...(options.onClientError ? { onClientError: options.onClientError } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      });
    if (options.maxErrorRate !== undefined || options.maxErrorRates !== undefined) {
      this.learner = new Learner({
        ...(options.maxErrorRate === undefined ? {} : { maxErrorRate: options.maxErrorRate }),
        ...(options.maxErrorRates ? { maxErrorRates: options.maxErrorRates } : {}),
        floorOf: (namespace) => this.thresholdOf(namespace),
        explorationBudget: options.explorationBudget ?? 0.05,
        judge: options.judge ?? defaultJudge(options.embedder),
        ...(options.backgroundJudge ? { backgroundJudge: options.backgroundJudge } : {}),
        log: this.store,
        payloadOf: async (hash) => this.store.payload(hash),
        clock: options.clock,
        random: options.random ?? (() => Math.random()),
        refreshMs: options.labelRefreshMs ?? 1_000,
        onError: (error) => options.onClientError?.(error),
        ...(options.sealer ? { sealer: options.sealer } : {}),
      });
    }
    if (options.purgeIntervalMs) {
      this.purgeTimer = setInterval(() => {
        Promise.resolve()
          .then(() => this.purgeExpired())
          .catch((error: unknown) => this.options.onClientError?.(error as Error));
      }, options.purgeIntervalMs);
      this.purgeTimer.unref();
    }
  }

  /**
   * The question and context of a request, or the reason it is not matched by similarity.
   *
   * Invisible characters in the question (question/unicode.ts) are never embedded: a question with tag
   * characters (hidden ASCII a model reads and no one sees) is not matched at all; any other
   * invisible characters are removed from the question and recorded, each run with the visible
   * character before it, in the context digest. So a question carrying a hidden payload and the
   * same question without it, or with another, are in different partitions and never answer
   * each other, while two paraphrases with the same emoji ZWJ sequence or variation selector
   * still meet. Requests without invisible characters keep the digest they always had.
   */
  private split(key: CacheKey): { query: string; context: string; partition: string } | { refused: string } {
    const split = splitRequest(key.prompt, key.question, this.options.extractQuery);
    const { visible: query, invisible, tagged } = separateInvisible(split.query);
    if (tagged) return { refused: 'tag-characters' };
    if (query.trim().length === 0) return { refused: 'no-question' };
    // Never match on text the embedder cannot see whole: two questions that differ past its
    // window would look identical.
    if (split.query.length > (this.options.maxQueryChars ?? DEFAULT_MAX_QUERY_CHARS))
      return { refused: 'query-too-long' };
    if (this.options.embedder.fits?.(query) === false) return { refused: 'unseen-by-embedder' };
    // Two digests joined: no context's digest alone (64 hex digits) can spell it.
    const digest = invisible
      ? `${contextDigest(split.context)}+${contextDigest(invisible)}`
      : contextDigest(split.context);
    return { query, context: digest, partition: partitionOf(key.namespace, key.llmString, digest) };
  }

  async get(key: CacheKey, call?: TierCall): Promise<SimilarMatch | undefined> {
    const sealer = call?.sealer ?? this.options.sealer;
    const split = this.split(key);
    if ('refused' in split) {
      this.refuse(split.refused);
      return undefined;
    }
    const bounded = this.learner?.boundOf(key.namespace) !== undefined;
    if (bounded) this.learner!.lookedUp(key.namespace);
    const [vector] = await this.options.embedder.embed([split.query]);
    const threshold = this.thresholdOf(key.namespace);
    const now = this.options.clock.now();
    for (const stored of await this.store.nearest(split.partition, vector!, this.options.candidates, now)) {
      if (stored.score < threshold) break;
      if (stored.expiresAt !== null && stored.expiresAt <= now) continue;
      // A question that does not open (another key, another row's text, tampered) is never compared.
      const candidate = this.opened(stored, sealer);
      if (!candidate) {
        this.unopened++;
        continue;
      }
      // Stored before invisible characters were taken out of questions (by an embedder whose
      // id did not change): it may be a poisoned question in a clean question's partition.
      if (hasInvisible(candidate.query)) continue;
      // The nearest live entry decides. When a guard or the verifier refuses it, the next one
      // is not tried: measured on GPTCache's set, falling back to it added more wrong answers
      // than right ones (the runner-up is usually a different question).
      const guard = refusingGuard(split.query, candidate.query, this.options.guards);
      if (guard) {
        this.refuse(guard);
        return undefined;
      }
      if (this.options.verifier && !(await this.options.verifier(split.query, candidate.query))) {
        this.verifierRefusals++;
        return undefined;
      }
      // Under a bound, the learner decides; a candidate it holds back is labelled by the fresh answer.
      if (
        bounded &&
        !this.learner!.decide(key.hash, key.namespace, key.llmString, {
          entry: candidate.hash,
          similarity: candidate.score,
          question: split.query,
          cachedQuestion: candidate.query,
        }).serve
      )
        return undefined;
      const payload = await this.store.payload(candidate.hash);
      if (payload === undefined) continue;
      if (bounded) this.learner!.served(key.namespace);
      this.remember(key.hash, candidate.hash, candidate.score);
      return { payload, hash: candidate.hash, similarity: candidate.score, matchedPrompt: candidate.prompt };
    }
    return undefined;
  }

  /** Stores what it can match by similarity; a request without a usable question is refused (false). */
  async set(key: CacheKey, entry: StoredEntry, call?: TierCall): Promise<boolean> {
    const sealer = call?.sealer ?? this.options.sealer;
    const split = this.split(key);
    if ('refused' in split) return false;
    const [vector] = await this.options.embedder.embed([split.query]);
    await this.store.put(
      {
        hash: key.hash,
        namespace: key.namespace,
        llmString: key.llmString,
        // What the entry stores of the prompt (an excerpt of a long gateway request), not all of it
        // again. Under encryption the manager hands tiers no prompt (it is in the sealed payload):
        // an excerpt as long as a bounded writer's, sealed.
        prompt: this.seal(
          entry.prompt ?? (sealer ? promptExcerpt(key.prompt, STORED_PROMPT_CHARS) : key.prompt),
          'prompt',
          key.hash,
          sealer,
        ),
        query: this.seal(split.query, 'query', key.hash, sealer),
        context: split.context,
        partition: split.partition,
        createdAt: entry.createdAt,
        expiresAt: entry.expiresAt,
        tags: [...entry.tags],
        size: entry.size,
      },
      vector!,
      entry.payload,
    );
    // The fresh answer of a lookup that had a candidate: it labels that candidate (after the response).
    this.learner?.stored(key.hash, key.namespace, entry.payload, sealer);
    return true;
  }

  /** Waits for labels being judged and written, and reads what other processes learned (tests, benchmarks). */
  async settle(): Promise<void> {
    await this.learner?.settle();
  }

  delete(key: CacheKey): MaybePromise<boolean> {
    return this.store.delete(key.hash);
  }

  clear(namespace?: string): MaybePromise<number> {
    return this.store.remove(namespace === undefined ? {} : { namespace });
  }

  invalidateTag(tag: string, namespace?: string): MaybePromise<number> {
    return this.store.remove(namespace === undefined ? { tag } : { tag, namespace });
  }

  purgeExpired(): MaybePromise<number> {
    return this.store.remove({ expiredAt: this.options.clock.now() });
  }

  /**
   * Takes the entry that answered `key` (or, failing that, its nearest neighbour above the
   * threshold) out of semantic matching for good. The entry stays in exact tiers: it is the
   * right answer to its own prompt, just not to others'. Under a bound, also a wrong label.
   */
  async markBad(key: CacheKey): Promise<boolean> {
    const answered = await this.answerOf(key);
    if (!answered) return false;
    if (this.learner && this.firstWord(key.hash)) await this.learner.feedback(answered, true);
    return this.store.markBad(answered.entry);
  }

  /** Under a bound: the entry that answered `key` was right for it (a label); false if none is known. */
  async markGood(key: CacheKey): Promise<boolean> {
    // Only an answer this process served: a neighbour that may never have answered is not
    // declared right (markBad may guess, a wrong label only costs hits).
    const known = this.answeredBy.get(key.hash);
    if (!known || !this.learner || !this.firstWord(key.hash)) return false;
    return this.learner.feedback(
      {
        namespace: key.namespace,
        llmString: key.llmString,
        entry: known.entry,
        similarity: known.similarity,
      },
      false,
    );
  }

  entries(namespace?: string): AsyncIterable<ListedEntry> {
    return this.store.entries(namespace);
  }

  /**
   * Compare-and-set for `strata rekey`: the payload (sealed by the caller) and the prompt and
   * question text this tier sealed, moved to the active key of the rekey's key set (the call's
   * sealer, else the config's) in one write, only if the entry still holds exactly what was
   * read. Text that does not open with those keys (another key, tampered, or in clear) is left
   * as it is: it never answers anyway, and sealing text in clear would let planted text start
   * steering matches.
   */
  async replacePayload(
    entry: EntryRef,
    expected: string,
    payload: string,
    call?: TierCall,
  ): Promise<boolean> {
    const sealer = call?.sealer ?? this.options.sealer;
    const stored = await this.store.texts(entry.hash);
    if (!stored) return false;
    const next = {
      payload,
      prompt: this.resealed(stored.prompt, 'prompt', entry.hash, sealer),
      query: this.resealed(stored.query, 'query', entry.hash, sealer),
    };
    return this.store.replace(entry.hash, { payload: expected, ...stored }, next);
  }

  async stats(): Promise<TierStats> {
    return {
      ...(await this.store.counts()),
      verifierRefusals: this.verifierRefusals,
      unopened: this.unopened,
      guardRefusals: { ...this.refusals },
      notMatched: { ...this.notMatched },
      ...(this.learner ? { bound: await this.learner.stats(), unprovenLabels: this.learner.unproven } : {}),
    };
  }

  async health(): Promise<TierHealth> {
    await this.store.check();
    return { status: 'up' };
  }

  close(): MaybePromise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    const release = this.options.release;
    if (!this.learner && !release) return this.store.close();
    // Labels being judged are written before the store goes, and the embedder goes last.
    return (async () => {
      await this.learner?.drain();
      await this.store.close();
      await release?.();
    })();
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Text the store keeps, sealed under encryption (the call's keys, else the config's), bound to
   * its entry and its field.
   */
  private seal(text: string, field: 'prompt' | 'query', hash: string, sealer: Sealer | undefined): string {
    return sealer ? sealer.seal(text, `semantic\0${field}\0${hash}`) : text;
  }

  /** Sealed text under the sealer's active key, when it opens with the sealer's keys; otherwise as it is. */
  private resealed(
    text: string,
    field: 'prompt' | 'query',
    hash: string,
    sealer: Sealer | undefined,
  ): string {
    if (!sealer || !isSealed(text) || sealedKeyId(text) === sealer.keyId) return text;
    const plain = sealer.open(text, `semantic\0${field}\0${hash}`);
    return plain === undefined ? text : this.seal(plain, field, hash, sealer);
  }

  /**
   * A candidate with its prompt and question opened; undefined when either does not open, or,
   * under encryption, is stored in clear (planted text could steer a match to any entry).
   */
  private opened(candidate: Candidate, sealer: Sealer | undefined): Candidate | undefined {
    const open = (text: string, field: 'prompt' | 'query') => {
      if (!sealer) return isSealed(text) ? undefined : text;
      return sealer.open(text, `semantic\0${field}\0${candidate.hash}`);
    };
    const query = open(candidate.query, 'query');
    const prompt = open(candidate.prompt, 'prompt');
    return query === undefined || prompt === undefined ? undefined : { ...candidate, query, prompt };
  }

  /** Counts a lookup not answered by similarity: by the guard that refused, or why it was not tried. */
  private refuse(reason: string): void {
    const counts = NOT_MATCHED.has(reason) ? this.notMatched : this.refusals;
    counts[reason] = (counts[reason] ?? 0) + 1;
  }

  /** The fixed threshold of a namespace: what decides, or under a bound, the floor. */
  private thresholdOf(namespace: string): number {
    return this.options.thresholds?.[namespace] ?? this.options.threshold;
  }

  /**
   * The entry that answered `key` by similarity in this process, or else its nearest neighbour
   * above the threshold (another process may have served it), with its similarity: for markBad.
   */
  private async answerOf(key: CacheKey): Promise<Answered | undefined> {
    const known = this.answeredBy.get(key.hash);
    const of = (entry: string, similarity: number): Answered => ({
      namespace: key.namespace,
      llmString: key.llmString,
      entry,
      similarity,
    });
    if (known) return of(known.entry, known.similarity);
    const split = this.split(key);
    if ('refused' in split) return undefined;
    const [vector] = await this.options.embedder.embed([split.query]);
    const [best] = await this.store.nearest(split.partition, vector!, 1, this.options.clock.now());
    return best && best.score >= this.thresholdOf(key.namespace) ? of(best.hash, best.score) : undefined;
  }

  /** True the first time a client reports on the answer `queryHash` got (markBad / markGood). */
  private firstWord(queryHash: string): boolean {
    const answered = this.answeredBy.get(queryHash);
    if (!answered) return true;
    if (answered.told) return false;
    answered.told = true;
    return true;
  }

  private remember(queryHash: string, entry: string, similarity: number): void {
    this.answeredBy.delete(queryHash);
    this.answeredBy.set(queryHash, { entry, similarity });
    if (this.answeredBy.size > 10_000) this.answeredBy.delete(this.answeredBy.keys().next().value!);
  }
}
