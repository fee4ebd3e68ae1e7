/** Config fields, defaults and rules of this tier (its definition.ts names it). Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt } from '../../config/fields.js';
import { PG_TABLE_PREFIX, PG_TABLE_PREFIX_RULE } from '../kit/postgres-sql.js';
import type { AnswerJudge, BackgroundJudge } from './bound/judge.js';
import type { LangChainEmbeddings } from './embedders/langchain.js';
import type { Verifier } from './embedders/verifier.js';
import { ALL_GUARDS, type GuardName } from './guards/guards.js';

const similarity = z.number().min(-1).max(1);
/** δ: above 0 (a bound of 0 serves nothing: use an exact tier) and at most 0.5. */
const errorRate = z.number().gt(0, 'must be above 0').max(0.5, 'must be at most 0.5');
const judgeFunction = <T>(what: string) =>
  z.custom<T>((v) => typeof v === 'function', `must be a function ${what}`);

export const semanticTierSchema = z
  .strictObject({
    type: z.literal('semantic'),
    ...common,
    /** 'lexical' (built in, offline), 'onnx' (local MiniLM, see modelPath), or a LangChain EmbeddingsInterface object. */
    embeddings: z
      .union([
        z.enum(['lexical', 'onnx']),
        z.custom<LangChainEmbeddings>(
          (v) => typeof (v as LangChainEmbeddings | null)?.embedQuery === 'function',
          'must be "lexical", "onnx" or an object with embedQuery/embedDocuments',
        ),
      ])
      .default('lexical'),
    /** Cosine similarity (-1..1) a cached prompt must reach to answer; defaults per embedder. */
    threshold: similarity.optional(),
    /** Per-namespace thresholds. */
    thresholds: z.record(z.string(), similarity).optional(),
    /**
     * The share of similarity hits that may be wrong, at most (δ, docs/semantic-bound.md): the
     * tier learns when a candidate may answer and keeps its wrong hits under this; `threshold`
     * is then the floor below which nothing is served (default: the embedder's, so a bound only
     * ever serves less than the fixed threshold; lower it to let the bound reach further).
     */
    maxErrorRate: errorRate.optional(),
    /** δ per namespace; a namespace not listed uses `maxErrorRate`, or the fixed threshold without it. */
    maxErrorRates: z.record(z.string(), errorRate).optional(),
    /** Under a bound: at most this share of a namespace's lookups become model calls to check a candidate (`0.05`). */
    explorationBudget: z.number().min(0).max(1).optional(),
    /** Under a bound: decides labels instead of the default judge (programmatic use). */
    judge: judgeFunction<AnswerJudge>('(pair) => "right" | "wrong" | "unsure" | boolean').optional(),
    /** Under a bound: decides, after the response, pairs the judge was unsure of (an LLM judge). */
    backgroundJudge: judgeFunction<BackgroundJudge>('(pair) => boolean').optional(),
    /** SQLite file holding entries and vectors; ':memory:' for none. Unused with `store`. */
    path: z.string().min(1).default('.strata/semantic.db'),
    /**
     * Keep entries and vectors in PostgreSQL with pgvector, shared by every process, instead of the
     * local file (postgres-store.ts): `{ type: 'postgres', url }`.
     */
    store: z
      .strictObject({
        type: z.literal('postgres'),
        /** postgres://user:password@host:port/database (postgresql:// too) */
        url: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://'),
        poolSize: positiveInt.max(1000).default(10),
        /** Prefix of the table names (one table per embedder: <prefix>semantic_<digest>). */
        tablePrefix: z.string().regex(PG_TABLE_PREFIX, PG_TABLE_PREFIX_RULE).default('strata_'),
        connectTimeoutMs: positiveInt.default(2_000),
        /** Graph candidates a filtered search considers (pgvector's hnsw.ef_search). */
        efSearch: positiveInt.max(1000).default(100),
        /**
         * Dense vectors of a new table as 'vector' (float32) or 'halfvec' (float16, half the index;
         * above 2,000 dimensions always). Unset: 'vector', and an existing table keeps its type.
         */
        vectorType: z.enum(['vector', 'halfvec']).optional(),
      })
      .optional(),
    maxEntries: positiveInt.default(100_000),
    guards: z.array(z.enum(ALL_GUARDS as [GuardName, ...GuardName[]])).default([...ALL_GUARDS]),
    candidates: positiveInt.max(100).default(5),
    /** onnx: folder with model.onnx and vocab.txt (default: $STRATA_ONNX_MODEL, else ~/.cache/strata/models/all-minilm-l6-v2, where scripts/models.sh puts it). */
    modelPath: z.string().min(1).optional(),
    /**
     * onnx: the texts of concurrent lookups share one model run (docs/tiers/semantic.md). Default
     * `{ maxWaitMs: 0, maxTexts: 64, maxTokens: 8192 }`: a lookup reaching an idle model runs at
     * once (at the end of the current turn of the event loop); those arriving meanwhile run
     * together next. `false`: every lookup runs the model on its own, concurrently.
     */
    batching: z
      .union([
        z.literal(false),
        z.strictObject({
          /** How long a text reaching an idle model waits for others, in ms (0: not at all). */
          maxWaitMs: z.number().min(0).max(50).optional(),
          /** Texts per model run. */
          maxTexts: positiveInt.max(1024).optional(),
          /** Padded tokens per model run (texts × the longest one's tokens); at least one text always runs. */
          maxTokens: positiveInt.max(1_048_576).optional(),
        }),
      ])
      .optional(),
    /** (query, candidate) => boolean | Promise<boolean>: the last word on a candidate (programmatic use). */
    verifier: z
      .union([
        z.custom<Verifier>(
          (v) => typeof v === 'function',
          'must be a function (query, candidate) => boolean',
        ),
        /**
         * A second onnx model that must also score the pair at `threshold` (default: multilingual-e5-small
         * from ~/.cache/strata/models, 0.97; bench/README.md measures it).
         */
        z.strictObject({
          modelPath: z.string().min(1).optional(),
          threshold: similarity.default(0.97),
        }),
      ])
      .optional(),
    /**
     * A regular expression whose first capture group (or whole match) is the question in every
     * prompt (a template's slot, the text after "Question:"); the rest of the prompt must then be
     * identical for a match. Default: the final user message of a chat request, or the whole prompt.
     */
    queryPattern: z
      .string()
      .min(1)
      .superRefine((pattern, ctx) => {
        try {
          new RegExp(pattern, 'su');
        } catch (error) {
          ctx.addIssue({
            code: 'custom',
            message: `not a valid regular expression (${(error as Error).message})`,
          });
        }
      })
      .optional(),
    /** Longest question (in characters) matched by similarity; longer ones are exact-only (`500`). */
    maxQueryChars: positiveInt.default(500),
    /** Background purge of expired entries (`60`, `0` = off). */
    purgeIntervalSeconds: z
      .number()
      .min(0)
      .default(60)
      .refine((v) => v === 0 || v >= 1, 'must be 0 (off) or at least 1'),
  })
  .superRefine((tier, ctx) => {
    // What only a bound uses, set without one, would do nothing: say so rather than ignore it.
    if (tier.maxErrorRate === undefined && tier.maxErrorRates === undefined)
      for (const field of ['explorationBudget', 'judge', 'backgroundJudge'] as const)
        if (tier[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: 'needs maxErrorRate or maxErrorRates' });
    if (tier.batching !== undefined && tier.embeddings !== 'onnx' && typeof tier.verifier !== 'object')
      ctx.addIssue({
        code: 'custom',
        path: ['batching'],
        message: 'applies to onnx models only: needs embeddings "onnx" or a verifier model',
      });
    // A custom embeddings object has no measured threshold: the config must give one.
    if (typeof tier.embeddings === 'object' && tier.threshold === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['threshold'],
        message: 'required with custom embeddings (cosine similarity, -1..1)',
      });
    }
  });

export type SemanticTierConfig = z.output<typeof semanticTierSchema>;
