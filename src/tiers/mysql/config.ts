/** Config fields, defaults and rules of this tier. Importing this never loads the driver or its client library. */
import type { z } from 'zod';
import { sqlConnectionSchema } from '../kit/sql-connection.js';

/**
 * Table names cannot be bound parameters, so the prefix is checked here and again where the
 * driver builds its SQL (a programmatic caller may skip the config).
 */
export const TABLE_PREFIX = /^[A-Za-z0-9_]{0,32}$/;
export const TABLE_PREFIX_RULE = 'letters, digits and _ only, at most 32';

export const mysqlTierSchema = sqlConnectionSchema({
  type: 'mysql',
  /** mysql://user:password@host:port/database */
  scheme: /^mysql:\/\//,
  schemeRule: 'must start with mysql://',
  port: 3306,
  tablePrefix: TABLE_PREFIX,
  tablePrefixRule: TABLE_PREFIX_RULE,
});

export type MysqlTierConfig = z.output<typeof mysqlTierSchema>;
