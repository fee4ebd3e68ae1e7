/**
 * The zod pieces every part of the config is built from: numbers with their units and bounds,
 * timers Node can hold, TTLs, the breaker, and the fields every tier understands. Each tier's own
 * schema (src/tiers/<type>/config.ts) and config/schema.ts compose them.
 */
import { z } from 'zod';
import { DEFAULT_BREAKER } from '../core/breaker.js';

export const positiveInt = z.number().int().positive();
export const seconds = z.number().positive();

/**
 * Longest delay a Node timer takes: setTimeout/setInterval turn anything longer into 1 ms, so a
 * huge interval would become a busy loop and a huge timeout an instant one.
 */
export const MAX_TIMER_MS = 2_147_483_647;
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
/** A timer in milliseconds (positive integer, at most MAX_TIMER_MS). */
export const timerMs = positiveInt.max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days)`);
/** A timer period in seconds (positive, at most MAX_TIMER_MS). */
export const timerSeconds = seconds.max(
  MAX_TIMER_SECONDS,
  `must be at most ${MAX_TIMER_SECONDS} s (about 24.8 days)`,
);
/** A background purge period: 0 = off, else at least one second (and a timer Node can hold). */
export const purgeIntervalSeconds = z
  .number()
  .refine((v) => v === 0 || v >= 1, 'must be 0 (off) or at least 1 second')
  .refine((v) => v <= MAX_TIMER_SECONDS, `must be at most ${MAX_TIMER_SECONDS} s (about 24.8 days)`)
  .default(60);

/**
 * Longest lifetime an entry may be given: ten years. Anything longer is a unit mistake (ms given
 * as seconds), and far beyond it `now + ttl` leaves the range of a Date.
 */
export const MAX_TTL_SECONDS = 10 * 365 * 86_400;
export const ttlSeconds = seconds.max(
  MAX_TTL_SECONDS,
  `must be at most ${MAX_TTL_SECONDS} seconds (10 years)`,
);

/** A stale-if-error grace (core/stale.ts): 0 (none) up to the longest TTL. */
export const staleIfErrorSeconds = z
  .number({ error: 'must be a number of seconds' })
  .nonnegative('must be 0 (none) or a positive number of seconds')
  .max(MAX_TTL_SECONDS, `must be at most ${MAX_TTL_SECONDS} seconds (10 years)`);

// Defaults stated once, in core/breaker.ts.
export const breaker = z.strictObject({
  failureThreshold: positiveInt.default(DEFAULT_BREAKER.failureThreshold),
  cooldownMs: positiveInt.default(DEFAULT_BREAKER.cooldownMs),
  maxCooldownMs: positiveInt.default(DEFAULT_BREAKER.maxCooldownMs),
});

export const TIER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Fields every tier understands. */
export const common = {
  /** Label in stats and metrics; defaults to the type. Must be unique within one cache. */
  name: z.string().regex(TIER_NAME, 'must be 1-64 letters, digits, _ or -').optional(),
  /** Caps how long this tier keeps an entry; never extends the entry's own TTL. */
  ttlSeconds: ttlSeconds.optional(),
  /** A call slower than this is abandoned and counted as a timeout (a miss). */
  timeoutMs: timerMs.default(1_000),
  breaker: breaker.default({ ...DEFAULT_BREAKER }),
};
