/** Config fields, defaults and rules of this tier (its definition.ts names it). Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt, purgeIntervalSeconds } from '../../config/fields.js';

export const sqliteTierSchema = z.strictObject({
  type: z.literal('sqlite'),
  ...common,
  /** Database file; ':memory:' for a private in-memory database. */
  path: z.string().min(1, 'must name a database file'),
  /**
   * Evict least recently used entries above this many: checked on the first write after open,
   * every max(1, min(100, maxEntries / 10)) writes, on purge and on close.
   */
  maxEntries: positiveInt.optional(),
  /** Evict least recently used entries above this many payload bytes. */
  maxBytes: positiveInt.optional(),
  /** How often expired rows are deleted in the background; 0 disables the timer. */
  purgeIntervalSeconds,
  /** How long a call waits for another process's lock (never longer than timeoutMs). */
  busyTimeoutMs: z.number().int().nonnegative().default(5_000),
});

export type SqliteTierConfig = z.output<typeof sqliteTierSchema>;
