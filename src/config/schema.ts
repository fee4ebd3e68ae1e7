/**
 * The declarative config: one schema per tier type plus the top level. Unknown fields are errors
 * (a typo like `maxEntires` must not silently fall back to a default), and every error names the
 * field path, e.g. `tiers[1].path`.
 */
import { z } from 'zod';
import { DEFAULT_BREAKER } from '../core/breaker.js';
import { DEFAULT_NAMESPACE, validateNamespace } from '../core/key.js';
import type { Tier } from '../core/tier.js';
import { StrataConfigError } from '../errors.js';
import { TABLE_PREFIX, TABLE_PREFIX_RULE } from '../tiers/mysql/naming.js';
import type { LangChainEmbeddings } from '../tiers/semantic/embedder.js';
import { ALL_GUARDS, type GuardName } from '../tiers/semantic/guards.js';
import type { Verifier } from '../tiers/semantic/verifier.js';

const namespace = z.string().superRefine((value, ctx) => {
  const problem = validateNamespace(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const positiveInt = z.number().int().positive();
const seconds = z.number().positive();

/**
 * Longest delay a Node timer takes: setTimeout/setInterval turn anything longer into 1 ms, so a
 * huge interval would become a busy loop and a huge timeout an instant one.
 */
export const MAX_TIMER_MS = 2_147_483_647;
const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
/** A timer in milliseconds (positive integer, at most MAX_TIMER_MS). */
const timerMs = positiveInt.max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days)`);
/** A timer period in seconds (positive, at most MAX_TIMER_MS). */
const timerSeconds = seconds.max(
  MAX_TIMER_SECONDS,
  `must be at most ${MAX_TIMER_SECONDS} s (about 24.8 days)`,
);
/** A background purge period: 0 = off, else at least one second (and a timer Node can hold). */
const purgeIntervalSeconds = z
  .number()
  .refine((v) => v === 0 || v >= 1, 'must be 0 (off) or at least 1 second')
  .refine((v) => v <= MAX_TIMER_SECONDS, `must be at most ${MAX_TIMER_SECONDS} s (about 24.8 days)`)
  .default(60);

/**
 * Longest lifetime an entry may be given: ten years. Anything longer is a unit mistake (ms given
 * as seconds), and far beyond it `now + ttl` leaves the range of a Date.
 */
export const MAX_TTL_SECONDS = 10 * 365 * 86_400;
const ttlSeconds = seconds.max(MAX_TTL_SECONDS, `must be at most ${MAX_TTL_SECONDS} seconds (10 years)`);

// Defaults stated once, in core/breaker.ts.
const breaker = z.strictObject({
  failureThreshold: positiveInt.default(DEFAULT_BREAKER.failureThreshold),
  cooldownMs: positiveInt.default(DEFAULT_BREAKER.cooldownMs),
  maxCooldownMs: positiveInt.default(DEFAULT_BREAKER.maxCooldownMs),
});

const TIER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Fields every tier understands. */
const common = {
  /** Label in stats and metrics; defaults to the type. Must be unique within one cache. */
  name: z.string().regex(TIER_NAME, 'must be 1-64 letters, digits, _ or -').optional(),
  /** Caps how long this tier keeps an entry; never extends the entry's own TTL. */
  ttlSeconds: ttlSeconds.optional(),
  /** A call slower than this is abandoned and counted as a timeout (a miss). */
  timeoutMs: timerMs.default(1_000),
  breaker: breaker.default({ ...DEFAULT_BREAKER }),
};

export const memoryTierSchema = z.strictObject({
  type: z.literal('memory'),
  ...common,
  maxEntries: positiveInt.default(10_000),
  maxBytes: positiveInt.default(64 * 1024 * 1024),
});

export const sqliteTierSchema = z.strictObject({
  type: z.literal('sqlite'),
  ...common,
  path: z.string().min(1, 'must name a database file'),
  maxEntries: positiveInt.optional(),
  maxBytes: positiveInt.optional(),
  purgeIntervalSeconds,
  busyTimeoutMs: z.number().int().nonnegative().default(5_000),
});

const hostPort = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port');

export const redisTierSchema = z
  .strictObject({
    type: z.literal('redis'),
    ...common,
    mode: z.enum(['standalone', 'sentinel', 'cluster']).default('standalone'),
    /** standalone: redis[s]://[user:pass@]host:port[/db] */
    url: z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .optional(),
    /** sentinel: sentinels as host:port, and the master's name. */
    sentinels: z.array(hostPort).min(1).optional(),
    sentinelName: z.string().min(1).optional(),
    /** cluster: seed nodes as host:port. */
    nodes: z.array(hostPort).min(1).optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    tls: z.boolean().default(false),
    /** Versioned key prefix; no glob characters or braces (a brace would pin keys to one Cluster slot). */
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 letters, digits or _ . : -')
      .default('strata:v1'),
    connectTimeoutMs: positiveInt.default(2_000),
    /** Carry cross-instance invalidations to other instances' memory tiers over pub/sub. */
    bus: z.boolean().default(true),
    /** An existing node-redis client, cluster or sentinel (programmatic use only); Strata does not close it. */
    client: z
      .custom<object>((v) => typeof v === 'object' && v !== null, 'must be a node-redis client object')
      .optional(),
  })
  .superRefine((t, ctx) => {
    if (t.client) return;
    const need = (field: 'url' | 'sentinels' | 'sentinelName' | 'nodes') => {
      if (t[field] === undefined)
        ctx.addIssue({ code: 'custom', path: [field], message: `required in ${t.mode} mode` });
    };
    if (t.mode === 'standalone') need('url');
    if (t.mode === 'sentinel') {
      need('sentinels');
      need('sentinelName');
    }
    if (t.mode === 'cluster') need('nodes');
  });

export const mysqlTierSchema = z
  .strictObject({
    type: z.literal('mysql'),
    ...common,
    /** mysql://user:password@host:port/database */
    url: z
      .string()
      .regex(/^mysql:\/\//, 'must start with mysql://')
      .optional(),
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).default(3306),
    user: z.string().optional(),
    password: z.string().optional(),
    database: z.string().min(1).optional(),
    poolSize: positiveInt.max(1000).default(10),
    /** Prefix of the tables (cache, tags, stats, migrations). */
    tablePrefix: z.string().regex(TABLE_PREFIX, TABLE_PREFIX_RULE).default('strata_'),
    connectTimeoutMs: positiveInt.default(2_000),
    purgeIntervalSeconds,
  })
  .superRefine((t, ctx) => {
    if (!t.url && !(t.host && t.database)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give url, or host and database' });
    }
  });

const MIB = 1024 * 1024;

export const mongodbTierSchema = z.strictObject({
  type: z.literal('mongodb'),
  ...common,
  /** mongodb://user:password@host:port/ or mongodb+srv://... */
  url: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://'),
  database: z
    .string()
    .regex(/^[^/\\. "$*<>:|?\0]{1,63}$/, 'must be 1-63 characters, none of /\\. "$*<>:|?')
    .default('strata'),
  /** Its GridFS bucket is `<collection>_fs`. */
  collection: z
    .string()
    .regex(/^(?!system\.)[^$\0]{1,120}$/, 'must be 1-120 characters without $, not starting with system.')
    .default('llm_cache'),
  /** Encoded answers above this many bytes go to GridFS; capped far below the 16 MiB document limit. */
  gridfsThresholdBytes: positiveInt
    .max(8 * MIB, 'must be at most 8 MiB (documents are limited to 16 MiB)')
    .default(MIB),
  poolSize: positiveInt.max(1000).default(10),
  connectTimeoutMs: positiveInt.default(2_000),
  purgeIntervalSeconds,
});

export const gptcacheTierSchema = z.strictObject({
  type: z.literal('gptcache'),
  ...common,
  /** Base URL of a GPTCache server (its gptcache_server FastAPI app). */
  url: z.string().regex(/^https?:\/\//, 'must start with http:// or https://'),
  /** How that server matches: `exact` (map data manager) or `semantic` (embeddings + vector store). */
  mode: z.enum(['exact', 'semantic']).default('semantic'),
  /** Answers written by other GPTCache clients (not Strata entries): served as plain text, or ignored. */
  foreignAnswers: z.enum(['text', 'ignore']).default('text'),
  /** Most concurrent HTTP connections to the server. */
  poolSize: positiveInt.max(1000).default(16),
});

const similarity = z.number().min(-1).max(1);

export const semanticTierSchema = z.strictObject({
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
  /** SQLite file holding entries and vectors; ':memory:' for none. */
  path: z.string().min(1).default('.strata/semantic.db'),
  maxEntries: positiveInt.default(100_000),
  guards: z.array(z.enum(ALL_GUARDS as [GuardName, ...GuardName[]])).default([...ALL_GUARDS]),
  candidates: positiveInt.max(100).default(5),
  /** onnx: folder with model.onnx and vocab.txt (default: $STRATA_ONNX_MODEL, else ~/.cache/strata/models/all-minilm-l6-v2, where scripts/models.sh puts it). */
  modelPath: z.string().min(1).optional(),
  /** (query, candidate) => boolean | Promise<boolean>: the last word on a candidate (programmatic use). */
  verifier: z
    .union([
      z.custom<Verifier>((v) => typeof v === 'function', 'must be a function (query, candidate) => boolean'),
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
});

const TIER_METHODS = [
  'get',
  'set',
  'delete',
  'clear',
  'invalidateTag',
  'purgeExpired',
  'entries',
  'stats',
  'health',
  'close',
] as const;

/** Whether `value` has the shape of a Tier (see src/core/tier.ts): what a custom tier must offer. */
export function isTier(value: unknown): value is Tier {
  const t = value as Record<string, unknown> | null;
  return (
    typeof t === 'object' &&
    t !== null &&
    typeof t.name === 'string' &&
    TIER_NAME.test(t.name) &&
    typeof t.type === 'string' &&
    TIER_METHODS.every((m) => typeof t[m] === 'function')
  );
}

/** Says what is missing from an object given as a custom tier. */
function notATier(value: unknown): string {
  const t = value as Record<string, unknown> | null;
  if (typeof t !== 'object' || t === null) return 'must be an object implementing the Tier interface';
  const missing = [
    ...(typeof t.name === 'string' && TIER_NAME.test(t.name)
      ? []
      : ['a `name` of 1-64 letters, digits, _ or -']),
    ...(typeof t.type === 'string' ? [] : ['a `type` string']),
    ...TIER_METHODS.filter((m) => typeof t[m] !== 'function').map((m) => `${m}()`),
  ];
  return `must be an object implementing the Tier interface; missing: ${missing.join(', ')}`;
}

/** A tier you wrote: any object implementing `Tier` (programmatic configs; passes `strata-cache/testing`). */
export const customTierSchema = z.strictObject({
  type: z.literal('custom'),
  /** Must be the tier object's own `name` when given (stats and metrics use that one). */
  name: common.name,
  ttlSeconds: common.ttlSeconds,
  timeoutMs: common.timeoutMs,
  breaker: common.breaker,
  tier: z.custom<Tier>(isTier, { error: (issue) => notATier(issue.input) }),
});

export const TIER_TYPES = [
  'memory',
  'sqlite',
  'mysql',
  'redis',
  'mongodb',
  'semantic',
  'gptcache',
  'custom',
] as const;

/** The name a tier is known by in stats, metrics and alert rules. */
export function tierName(config: { type: string; name?: string | undefined; tier?: Tier }): string {
  return config.type === 'custom' && config.tier ? config.tier.name : (config.name ?? config.type);
}

const tierSchema = z.discriminatedUnion(
  'type',
  [
    memoryTierSchema,
    sqliteTierSchema,
    mysqlTierSchema,
    redisTierSchema,
    mongodbTierSchema,
    semanticTierSchema,
    gptcacheTierSchema,
    customTierSchema,
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `unknown tier type ${JSON.stringify((issue.input as { type?: unknown } | undefined)?.type)} (expected one of: ${TIER_TYPES.join(', ')})`
        : undefined,
  },
);

const ratio = z.number().min(0).max(1);
const window = { windowSeconds: seconds.default(300), minRequests: positiveInt.default(50) };

/** Alert rules: see src/monitor/alerts.ts for how they are evaluated. */
export const alertRuleSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hit_rate_below'),
    threshold: ratio,
    ...window,
    tier: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('error_rate_above'),
    threshold: ratio.default(0.05),
    ...window,
    tier: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('p99_above'),
    thresholdMs: z.number().positive(),
    minRequests: positiveInt.default(20),
  }),
  z.strictObject({ type: z.literal('tier_down'), tier: z.string().optional() }),
  z.strictObject({ type: z.literal('memory_full'), ratio: ratio.default(0.95), tier: z.string().optional() }),
]);

export const monitoringSchema = z.strictObject({
  /** USD per million input / output tokens, by model name as it appears in the llm string. */
  prices: z
    .record(z.string(), z.strictObject({ input: z.number().nonnegative(), output: z.number().nonnegative() }))
    .default({}),
  /** How often the dashboard's time series takes a point. */
  sampleSeconds: timerSeconds.default(5),
  /**
   * How often each process writes its counters to the shared tier for `strata serve` to sum
   * (core/fleet.ts); 0 = never. Applies to every process that creates the cache from this config.
   */
  reportSeconds: z
    .number()
    .refine((v) => v === 0 || v >= 1, 'must be 0 (off) or at least 1 second')
    .refine((v) => v <= MAX_TIMER_SECONDS, `must be at most ${MAX_TIMER_SECONDS} s (about 24.8 days)`)
    .default(10),
  alerts: z
    .strictObject({
      intervalSeconds: timerSeconds.default(10),
      forChecks: positiveInt.default(1),
      clearChecks: positiveInt.default(2),
      cooldownSeconds: z.number().nonnegative().default(300),
      rules: z.array(alertRuleSchema).default([]),
      /** Alerts are logged through the cache's logger. */
      log: z.boolean().default(true),
      /** Each alert (fired or resolved) is POSTed here as JSON, with retries. */
      webhook: z
        .strictObject({
          url: z.string().regex(/^https?:\/\//, 'must start with http:// or https://'),
          timeoutMs: timerMs.default(2_000),
          retries: z.number().int().min(0).max(10).default(3),
          headers: z.record(z.string(), z.string()).default({}),
        })
        .optional(),
    })
    .optional(),
});

export type MonitoringConfig = z.output<typeof monitoringSchema>;

export const configSchema = z
  .strictObject({
    namespace: namespace.default(DEFAULT_NAMESPACE),
    /** TTL of new entries; null or absent = no expiry. */
    defaultTtlSeconds: ttlSeconds.nullable().default(null),
    /** When false, tiers keep only the key hash, never the prompt text. */
    storePrompt: z.boolean().default(true),
    /** How long concurrent misses of one key wait for the first caller's answer; 0 disables. */
    coalesceWaitMs: z
      .number()
      .int()
      .nonnegative()
      .max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days)`)
      .default(15_000),
    tiers: z.array(tierSchema).min(1, 'needs at least one tier'),
    /** Metrics, savings and alerts (used by `strata serve` and createMonitor). */
    monitoring: monitoringSchema.optional(),
  })
  .superRefine((config, ctx) => {
    // Tier names label stats, metrics and alert rules, so two tiers may not share one; a tier
    // without `name` is named after its type, so two tiers of one type need a name each but one.
    const named = new Map<string, number>();
    config.tiers.forEach((tier, i) => {
      const name = tierName(tier);
      const first = named.get(name);
      if (first === undefined) {
        named.set(name, i);
      } else {
        const unnamed = (t: (typeof config.tiers)[number]) => t.type !== 'custom' && t.name === undefined;
        const implicit =
          unnamed(tier) || unnamed(config.tiers[first]!)
            ? ' (a tier without `name` is named after its type)'
            : '';
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'name'],
          message: `two tiers are named "${name}" (tiers[${first}] and tiers[${i}])${implicit}; give one a distinct \`name\``,
        });
      }
    });
    config.monitoring?.alerts?.rules.forEach((rule, i) => {
      if (!('tier' in rule) || rule.tier === undefined || named.has(rule.tier)) return;
      ctx.addIssue({
        code: 'custom',
        path: ['monitoring', 'alerts', 'rules', i, 'tier'],
        message: `no tier is named "${rule.tier}" (tiers: ${[...named.keys()].join(', ')})`,
      });
    });
    config.tiers.forEach((tier, i) => {
      if (tier.type === 'custom' && tier.name !== undefined && tier.name !== tier.tier.name) {
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'name'],
          message: `is "${tier.name}" but the tier object is named "${tier.tier.name}"; leave \`name\` out or make them equal`,
        });
      }
      // A custom embeddings object has no measured threshold: the config must give one.
      if (tier.type === 'semantic' && typeof tier.embeddings === 'object' && tier.threshold === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'threshold'],
          message: 'required with custom embeddings (cosine similarity, -1..1)',
        });
      }
      if (tier.type === 'semantic' && !config.storePrompt) {
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'type'],
          message: 'a semantic tier compares prompt texts, so it needs storePrompt: true',
        });
      }
      if (tier.type === 'gptcache' && !config.storePrompt) {
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', i, 'type'],
          message: 'GPTCache keys its entries by prompt text, so a gptcache tier needs storePrompt: true',
        });
      }
    });
  });

export type StrataConfig = z.input<typeof configSchema>;
export type ResolvedConfig = z.output<typeof configSchema>;
export type TierConfig = z.input<typeof tierSchema>;
export type ResolvedTierConfig = z.output<typeof tierSchema>;

export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (out, part) =>
      typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part),
    '',
  );
}

export function parseConfig(input: unknown): ResolvedConfig {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  throw new StrataConfigError(
    result.error.issues.map((i) => ({ path: fieldPath(i.path), message: i.message })),
  );
}
