import { defineTier } from '../kit/definition.js';
import { loadDriver } from '../kit/load.js';
import { postgresTierSchema } from './config.js';

const POSTGRES_PACKAGE = 'pg';

export const postgresTier = defineTier({
  type: 'postgres',
  schema: postgresTierSchema,
  package: POSTGRES_PACKAGE,
  capabilities: { counters: true, search: true, daily: true },
  async open(config, ctx) {
    const { PostgresTier } = await loadDriver('postgres', POSTGRES_PACKAGE, () => import('./index.js'));
    return new PostgresTier({
      ...config,
      name: ctx.name,
      purgeIntervalMs: config.purgeIntervalSeconds * 1000,
      clock: ctx.clock,
      onClientError: ctx.onClientError,
    });
  },
});
