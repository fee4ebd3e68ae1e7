import { defineTier } from '../kit/definition.js';
import { loadDriver } from '../kit/load.js';
import { mysqlTierSchema } from './config.js';

const PACKAGE = 'mysql2';

export const mysqlTier = defineTier({
  type: 'mysql',
  schema: mysqlTierSchema,
  package: PACKAGE,
  capabilities: { counters: true, search: true, daily: true },
  async open(config, ctx) {
    const { MysqlTier } = await loadDriver('mysql', PACKAGE, () => import('./index.js'));
    return new MysqlTier({
      ...config,
      name: ctx.name,
      purgeIntervalMs: config.purgeIntervalSeconds * 1000,
      clock: ctx.clock,
    });
  },
});
