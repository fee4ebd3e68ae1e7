/** Config fields, defaults and rules of this tier (its definition.ts names it). Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt, purgeIntervalSeconds } from '../../config/fields.js';

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

export type MongodbTierConfig = z.output<typeof mongodbTierSchema>;
