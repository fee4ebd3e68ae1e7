/** Config fields, defaults and rules of this tier, composed by config/schema.ts. Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt, purgeIntervalSeconds } from '../../config/fields.js';

/**
 * Table names cannot be bound parameters, so the prefix is checked here and again where the
 * driver builds its SQL. PostgreSQL folds unquoted names to lower case and refuses one that
 * starts with a digit, and an empty prefix would name tables `cache` or `migrations`, which an
 * application may have already: so lower case, a letter or _ first, 1-32 characters.
 */
export const PG_TABLE_PREFIX = /^[a-z_][a-z0-9_]{0,31}$/;
export const PG_TABLE_PREFIX_RULE =
  'lower-case letters, digits and _ only, starting with a letter or _, 1-32 characters';

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
    tablePrefix: z.string().regex(PG_TABLE_PREFIX, PG_TABLE_PREFIX_RULE).default('strata_'),
    connectTimeoutMs: positiveInt.default(2_000),
    purgeIntervalSeconds,
  })
  .superRefine((t, ctx) => {
    if (!t.url && !(t.host && t.database)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give url, or host and database' });
    }
  });

export type PostgresTierConfig = z.output<typeof postgresTierSchema>;
