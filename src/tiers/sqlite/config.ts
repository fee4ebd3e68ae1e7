/** Config fields, defaults and rules of this tier, composed by config/schema.ts. Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt, purgeIntervalSeconds } from '../../config/fields.js';

export const sqliteTierSchema = z.strictObject({
  type: z.literal('sqlite'),
  ...common,
  path: z.string().min(1, 'must name a database file'),
  maxEntries: positiveInt.optional(),
  maxBytes: positiveInt.optional(),
  purgeIntervalSeconds,
  busyTimeoutMs: z.number().int().nonnegative().default(5_000),
});
