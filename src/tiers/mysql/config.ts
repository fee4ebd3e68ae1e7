/** Config fields, defaults and rules of this tier, composed by config/schema.ts. Importing this never loads the driver or its client library. */
import { z } from 'zod';
import { common, positiveInt, purgeIntervalSeconds } from '../../config/fields.js';

/**
 * Table names cannot be bound parameters, so the prefix is checked here and again where the
 * driver builds its SQL (a programmatic caller may skip the config).
 */
export const TABLE_PREFIX = /^[A-Za-z0-9_]{0,32}$/;
export const TABLE_PREFIX_RULE = 'letters, digits and _ only, at most 32';

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

export type MysqlTierConfig = z.output<typeof mysqlTierSchema>;
