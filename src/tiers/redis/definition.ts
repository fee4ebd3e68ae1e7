import { defineTier } from '../kit/definition.js';
import { loadDriver } from '../kit/load.js';
import { redisTierSchema } from './config.js';

const PACKAGE = '@redis/client';

export const redisTier = defineTier({
  type: 'redis',
  schema: redisTierSchema,
  package: PACKAGE,
  capabilities: { counters: true },
  async open(config, ctx) {
    const { RedisTier } = await loadDriver('redis', PACKAGE, () => import('./index.js'));
    return new RedisTier({ ...config, name: ctx.name, clock: ctx.clock, onClientError: ctx.onClientError });
  },
});
