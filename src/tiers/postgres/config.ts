/** Config fields, defaults and rules of this tier, composed by config/schema.ts. Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt, purgeIntervalSeconds } from '../../config/fields.js';
import { TABLE_PREFIX, TABLE_PREFIX_RULE } from '../mysql/config.js';

export const postgresTierSchema = z
  .strictObject({
    type: z.literal('postgres'),
    ...common,
    /** postgres://user:password@host:port/database (postgresql:// too) */
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).default(5432),
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

export type PostgresTierConfig = z.output<typeof postgresTierSchema>;
