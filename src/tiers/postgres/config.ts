/** Config fields, defaults and rules of this tier. Importing this never loads the driver or its client library. */
import type { z } from 'zod';
import { PG_TABLE_PREFIX, PG_TABLE_PREFIX_RULE } from '../kit/postgres-sql.js';
import { sqlConnectionSchema } from '../kit/sql-connection.js';

export const postgresTierSchema = sqlConnectionSchema({
  type: 'postgres',
  /** postgres://user:password@host:port/database (postgresql:// too) */
  scheme: /^postgres(ql)?:\/\//,
  schemeRule: 'must start with postgres:// or postgresql://',
  port: 5432,
  tablePrefix: PG_TABLE_PREFIX,
  tablePrefixRule: PG_TABLE_PREFIX_RULE,
});

export type PostgresTierConfig = z.output<typeof postgresTierSchema>;
