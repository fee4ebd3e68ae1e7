/**
 * The declarative config: one schema per tier type plus the top level. Unknown fields are errors
 * (a typo like `maxEntires` must not silently fall back to a default), and every error names the
 * field path, e.g. `tiers[1].path`.
 */
import { z } from 'zod';
import { DEFAULT_NAMESPACE, validateNamespace } from '../core/key.js';

const namespace = z.string().superRefine((value, ctx) => {
  const problem = validateNamespace(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const positiveInt = z.number().int().positive();
const seconds = z.number().positive();

const breaker = z.strictObject({
  failureThreshold: positiveInt.default(5),
  cooldownMs: positiveInt.default(2_000),
  maxCooldownMs: positiveInt.default(30_000),
});

/** Fields every tier understands. */
const common = {
  /** Label in stats and metrics; defaults to the type. Must be unique within one cache. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -')
    .optional(),
  /** Caps how long this tier keeps an entry; never extends the entry's own TTL. */
  ttlSeconds: seconds.optional(),
  /** A call slower than this is abandoned and counted as a timeout (a miss). */
  timeoutMs: positiveInt.default(1_000),
  breaker: breaker.default({ failureThreshold: 5, cooldownMs: 2_000, maxCooldownMs: 30_000 }),
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
  purgeIntervalSeconds: z.number().nonnegative().default(60),
  busyTimeoutMs: z.number().int().nonnegative().default(5_000),
});

export const TIER_TYPES = ['memory', 'sqlite'] as const;

const tierSchema = z.discriminatedUnion('type', [memoryTierSchema, sqliteTierSchema], {
  error: (issue) =>
    issue.code === 'invalid_union'
      ? `unknown tier type ${JSON.stringify((issue.input as { type?: unknown } | undefined)?.type)} (expected one of: ${TIER_TYPES.join(', ')})`
      : undefined,
});

export const configSchema = z.strictObject({
  namespace: namespace.default(DEFAULT_NAMESPACE),
  /** TTL of new entries; null or absent = no expiry. */
  defaultTtlSeconds: seconds.nullable().default(null),
  /** When false, tiers keep only the key hash, never the prompt text. */
  storePrompt: z.boolean().default(true),
  /** How long concurrent misses of one key wait for the first caller's answer; 0 disables. */
  coalesceWaitMs: z.number().int().nonnegative().default(15_000),
  tiers: z.array(tierSchema).min(1, 'needs at least one tier'),
});

export type StrataConfig = z.input<typeof configSchema>;
export type ResolvedConfig = z.output<typeof configSchema>;
export type TierConfig = z.input<typeof tierSchema>;
export type ResolvedTierConfig = z.output<typeof tierSchema>;

export class StrataConfigError extends Error {
  constructor(readonly issues: Array<{ path: string; message: string }>) {
    super(`invalid Strata config: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'StrataConfigError';
  }
}

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
