/**
 * The config of a tier on a SQL server (MySQL, PostgreSQL): a URL or host and database, a pool,
 * a table prefix and a purge period. The servers differ only in the URL scheme, the default port
 * and which table names they accept.
 */
import { z } from 'zod';
import { common, positiveInt, purgeIntervalSeconds } from '../../config/fields.js';

export interface SqlServer<T extends string> {
  type: T;
  /** The URL's scheme, checked at the start of `url`, and the rule said when it does not match. */
  scheme: RegExp;
  schemeRule: string;
  port: number;
  /** Table names cannot be bound parameters: the prefix is checked here and where the SQL is built. */
  tablePrefix: RegExp;
  tablePrefixRule: string;
}

export function sqlConnectionSchema<const T extends string>(server: SqlServer<T>) {
  return z
    .strictObject({
      type: z.literal(server.type),
      ...common,
      url: z.string().regex(server.scheme, server.schemeRule).optional(),
      host: z.string().min(1).optional(),
      port: z.number().int().min(1).max(65535).default(server.port),
      user: z.string().optional(),
      password: z.string().optional(),
      database: z.string().min(1).optional(),
      poolSize: positiveInt.max(1000).default(10),
      /** Prefix of the tables (cache, tags, stats, migrations). */
      tablePrefix: z.string().regex(server.tablePrefix, server.tablePrefixRule).default('strata_'),
      connectTimeoutMs: positiveInt.default(2_000),
      purgeIntervalSeconds,
    })
    .superRefine((t, ctx) => {
      if (!t.url && !(t.host && t.database)) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'give url, or host and database' });
      }
    });
}
