/** Config fields, defaults and rules of this tier (its definition.ts names it). Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt } from '../../config/fields.js';

export const memoryTierSchema = z.strictObject({
  type: z.literal('memory'),
  ...common,
  maxEntries: positiveInt.default(10_000),
  maxBytes: positiveInt.default(64 * 1024 * 1024),
});

export type MemoryTierConfig = z.output<typeof memoryTierSchema>;
