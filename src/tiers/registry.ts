/**
 * The built-in tiers: the one list that names them. The config union, the lazy loader and the
 * capability checks are derived from it; a new tier is its folder plus one line here.
 */
import { gptcacheTier } from './gptcache/definition.js';
import { memoryTier } from './memory/definition.js';
import { mongodbTier } from './mongodb/definition.js';
import { mysqlTier } from './mysql/definition.js';
import { postgresTier } from './postgres/definition.js';
import { redisTier } from './redis/definition.js';
import { semanticTier } from './semantic/definition.js';
import { sqliteTier } from './sqlite/definition.js';

export const BUILTIN_TIERS = [
  memoryTier,
  sqliteTier,
  mysqlTier,
  postgresTier,
  redisTier,
  mongodbTier,
  semanticTier,
  gptcacheTier,
] as const;

export type BuiltinTier = (typeof BUILTIN_TIERS)[number];
