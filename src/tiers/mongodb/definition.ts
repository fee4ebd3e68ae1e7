import { defineTier } from '../kit/definition.js';
import { loadDriver } from '../kit/load.js';
import { mongodbTierSchema } from './config.js';

const PACKAGE = 'mongodb';

export const mongodbTier = defineTier({
  type: 'mongodb',
  schema: mongodbTierSchema,
  package: PACKAGE,
  capabilities: {},
  async open(config, ctx) {
    const { MongodbTier } = await loadDriver('mongodb', PACKAGE, () => import('./index.js'));
    return new MongodbTier({
      ...config,
      name: ctx.name,
      purgeIntervalMs: config.purgeIntervalSeconds * 1000,
      clock: ctx.clock,
    });
  },
});
