/**
 * The declarative config: one schema per tier type plus the top level. Unknown fields are errors
 * (a typo like `maxEntires` must not silently fall back to a default), and every error names the
 * field path, e.g. `tiers[1].path`.
 */
import { z } from 'zod';
import { KEY_ID_PATTERN } from '../core/encryption/keyring.js';
import { DEFAULT_REPORT_SECONDS } from '../core/fleet.js';
import { DEFAULT_NAMESPACE, validateNamespace } from '../core/key.js';
import { DIGEST_KEY_ENV } from '../core/secrets.js';
import type { Tier } from '../core/tier.js';
import { StrataConfigError, TierConfigError } from '../errors.js';
import { proxyConfigSchema } from '../proxy/config.js';
import type { ConfigOf, ResolvedConfigOf, TierDefinition, TierSchema } from '../tiers/kit/definition.js';
import { BUILTIN_TIERS, type BuiltinTier } from '../tiers/registry.js';
import {
  common,
  MAX_TIMER_MS,
  MAX_TIMER_SECONDS,
  positiveInt,
  seconds,
  staleIfErrorSeconds,
  TIER_NAME,
  timerMs,
  timerSeconds,
  ttlSeconds,
} from './fields.js';

const namespace = z.string().superRefine((value, ctx) => {
  const problem = validateNamespace(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
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

/** The name a tier is known by in stats, metrics and alert rules. */
export function tierName(config: { type: string; name?: string | undefined; tier?: Tier }): string {
  return config.type === 'custom' && config.tier ? config.tier.name : (config.name ?? config.type);
}

export type CustomTierConfig = z.output<typeof customTierSchema>;
/** One tier's config as written; `Extra` are the definitions of tiers given to createCache. */
export type TierConfig<Extra = never> = ConfigOf<BuiltinTier | Extra> | z.input<typeof customTierSchema>;
export type ResolvedTierConfig<Extra = never> = ResolvedConfigOf<BuiltinTier | Extra> | CustomTierConfig;

/** The tier union of a set of definitions (built-in ones plus the caller's), and `custom`. */
function tierSchemaOf(definitions: readonly TierDefinition[]): z.ZodType<ResolvedTierConfig, TierConfig> {
  const types = [...definitions.map((d) => d.type), customTierSchema.shape.type.value];
  const schemas: [TierSchema, ...TierSchema[]] = [customTierSchema, ...definitions.map((d) => d.schema)];
  return z.discriminatedUnion('type', schemas, {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `unknown tier type ${JSON.stringify((issue.input as { type?: unknown } | undefined)?.type)} (expected one of: ${types.join(', ')})`
        : undefined,
  }) as unknown as z.ZodType<ResolvedTierConfig, TierConfig>;
}

/**
 * Encryption at rest (docs/encryption.md): the keys by id, each read from an environment
 * variable when the cache is created (core/encryption/keyring.ts checks they are set and are
 * 32 bytes), and the id new entries are sealed under.
 */
export const encryptionSchema = z
  .strictObject({
    keys: z
      .array(
        z.strictObject({
          id: z.string().regex(KEY_ID_PATTERN, 'must be 1-64 letters, digits, _ or -'),
          keyEnv: z
            .string()
            .regex(
              /^[A-Za-z_][A-Za-z0-9_]*$/,
              'must be the name of an environment variable (letters, digits, _)',
            ),
        }),
      )
      .min(1, 'needs at least one key'),
    active: z.string(),
    /**
     * Whether entries stored in clear before encryption was turned on may still answer (a
     * migration window until `strata rekey` has sealed them). Default false: a plain payload in
     * a store under encryption is a miss, since anyone with write access could have planted it.
     */
    acceptPlaintext: z.boolean().default(false),
  })
  .superRefine((config, ctx) => {
    const seen = new Map<string, number>();
    config.keys.forEach((key, i) => {
      const first = seen.get(key.id);
      if (first !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['keys', i, 'id'],
          message: `"${key.id}" is also the id of keys[${first}]; every key needs its own id`,
        });
      else seen.set(key.id, i);
    });
    if (!seen.has(config.active))
      ctx.addIssue({
        code: 'custom',
        path: ['active'],
        message: `"${config.active}" is not the id of any key (keys: ${[...seen.keys()].join(', ')})`,
      });
  });

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
    .default(DEFAULT_REPORT_SECONDS),
  /**
   * `otel`: the metrics /metrics carries are also observed through OpenTelemetry's global
   * MeterProvider (@opentelemetry/api, an optional peer), with the same names and labels, at
   * each of its collections (monitor/otel-metrics.ts). Absent or `prometheus`: /metrics only.
   */
  metrics: z.enum(['prometheus', 'otel']).optional(),
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

/** The whole config, for the built-in tiers and `definitions` (the caller's own tiers). */
function configSchemaOf(definitions: readonly TierDefinition[]) {
  return z
    .strictObject({
      namespace: namespace.default(DEFAULT_NAMESPACE),
      /** TTL of new entries; null or absent = no expiry. */
      defaultTtlSeconds: ttlSeconds.nullable().default(null),
      /**
       * Stale-if-error: how long past its TTL an entry is kept to answer a model call that failed
       * (429, 5xx, timeout, connection refused); withCache and the gateway serve it, marked.
       * 0 (default): none.
       */
      staleIfErrorSeconds: staleIfErrorSeconds.default(0),
      /** When false, tiers keep only the key hash, never the prompt text. */
      storePrompt: z.boolean().default(true),
      /**
       * The environment variable holding the key of the HMAC that replaces secret-looking values in
       * llm strings (core/secrets.ts); at least 32 bytes. Unset: a random key of this process, so
       * entries holding such values are not shared across processes or restarts.
       */
      digestKeyEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable (letters, digits, _)')
        .default(DIGEST_KEY_ENV),
      /** How long concurrent misses of one key wait for the first caller's answer; 0 disables. */
      coalesceWaitMs: z
        .number()
        .int()
        .nonnegative()
        .max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days)`)
        .default(15_000),
      tiers: z.array(tierSchemaOf(definitions)).min(1, 'needs at least one tier'),
      /** Encryption at rest of every persistent tier's entries (docs/encryption.md). */
      encryption: encryptionSchema.optional(),
      /** Metrics, savings and alerts (used by `strata serve` and createMonitor). */
      monitoring: monitoringSchema.optional(),
      /**
       * OpenTelemetry spans (docs/monitoring.md, "Tracing"), made only when `@opentelemetry/api`
       * is installed and an SDK is registered; false: never, whatever is registered.
       */
      tracing: z
        .boolean({ error: 'must be true or false (false: no OpenTelemetry spans, whatever is registered)' })
        .default(true),
      /** The caching gateway (`strata proxy`, createProxy): upstreams, tenancy, limits. */
      proxy: proxyConfigSchema.optional(),
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
        // A tier that compares or keys entries by prompt text cannot work without it.
        const definition = definitions.find((d) => d.type === tier.type);
        if (definition?.capabilities.prompts && !config.storePrompt) {
          ctx.addIssue({
            code: 'custom',
            path: ['tiers', i, 'type'],
            message: `a ${tier.type} tier compares prompt texts, so it needs storePrompt: true`,
          });
        }
        // Fail closed: a tier that keeps text Strata cannot seal would void `encryption`.
        if (definition?.capabilities.plaintext && config.encryption) {
          ctx.addIssue({
            code: 'custom',
            path: ['tiers', i, 'type'],
            message: `a ${tier.type} tier keeps prompt and answer text in its own server, where Strata cannot seal it, so it cannot be used with \`encryption\``,
          });
        }
      });
    });
}

export const configSchema = configSchemaOf(BUILTIN_TIERS);

/** The config as written; `Extra` are the definitions of tiers given to createCache (`tiers`). */
export type StrataConfig<Extra = never> = Omit<z.input<typeof configSchema>, 'tiers'> & {
  tiers: TierConfig<Extra>[];
};
export type ResolvedConfig = z.output<typeof configSchema>;

export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (out, part) =>
      typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part),
    '',
  );
}

const schemas = new WeakMap<readonly TierDefinition[], ReturnType<typeof configSchemaOf>>();

/** The schema for the built-in tiers plus `extraTiers`, whose types must be new. */
function schemaWith(extraTiers: readonly TierDefinition[]): ReturnType<typeof configSchemaOf> {
  let schema = schemas.get(extraTiers);
  if (!schema) {
    const taken = new Set<string>([...BUILTIN_TIERS.map((d) => d.type), 'custom']);
    for (const definition of extraTiers) {
      if (taken.has(definition.type)) {
        throw new TierConfigError(`tier type "${definition.type}" is defined twice (or is built in)`);
      }
      taken.add(definition.type);
    }
    schema = configSchemaOf([...BUILTIN_TIERS, ...extraTiers]);
    schemas.set(extraTiers, schema);
  }
  return schema;
}

/**
 * Validates a config: every bad field is named by its path. `extraTiers` are definitions of the
 * caller's own tiers (defineTier), which the config may then name by their type.
 */
export function parseConfig(input: unknown, extraTiers: readonly TierDefinition[] = []): ResolvedConfig {
  const result = (extraTiers.length === 0 ? configSchema : schemaWith(extraTiers)).safeParse(input);
  if (result.success) return result.data;
  throw new StrataConfigError(
    result.error.issues.flatMap((i) =>
      // An unknown key is named by its own path (`tiers[0].maxEntires`), as a bad value is.
      i.code === 'unrecognized_keys'
        ? i.keys.map((key) => ({ path: fieldPath([...i.path, key]), message: 'unknown field' }))
        : [{ path: fieldPath(i.path), message: i.message }],
    ),
  );
}
