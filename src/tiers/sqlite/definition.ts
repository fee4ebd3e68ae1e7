import { defineTier } from '../kit/definition.js';
import { loadDriver } from '../kit/load.js';
import { sqliteTierSchema } from './config.js';

const SQLITE_PACKAGE = 'better-sqlite3';

export const sqliteTier = defineTier({
  type: 'sqlite',
  schema: sqliteTierSchema,
  package: SQLITE_PACKAGE,
  capabilities: { counters: true, daily: true },
  async open(config, ctx) {
    const { SqliteTier } = await loadDriver('sqlite', SQLITE_PACKAGE, () => import('./index.js'));
    return new SqliteTier({
      ...config,
      name: ctx.name,
      purgeIntervalMs: config.purgeIntervalSeconds * 1000,
      readonly: ctx.readonly,
      integrityCheck: ctx.integrityCheck,
      clock: ctx.clock,
      onEviction: ctx.onEviction,
    });
  },
});
