/** createCache: a validated config in, a ready StrataCache out. */
import { parseConfig, type ResolvedConfig, type StrataConfig, StrataConfigError } from './config/schema.js';
import { type Clock, systemClock } from './core/clock.js';
import { type Logger, Manager } from './core/manager.js';
import type { Tier } from './core/tier.js';
import { StrataCache } from './langchain/cache.js';
import { isUsableByLangChain } from './langchain/generations.js';
import { buildTier } from './tiers/index.js';

export interface CreateOptions {
  /** Time source for expiry and breakers (tests inject a manual clock). */
  clock?: Clock;
  /** Where warnings go (a tier going down, recovering); defaults to console.warn. */
  logger?: Logger;
}

export async function createCache(
  config: StrataConfig | ResolvedConfig,
  options: CreateOptions = {},
): Promise<StrataCache> {
  const resolved = parseConfig(config);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? { warn: (message: string) => console.warn(message) };
  const built: Tier[] = [];
  let manager: Manager | undefined;
  const onEviction = (event: { tier: string; hash: string; reason: string }) => manager?.onEviction(event);
  const onClientError = (tier: string, error: Error) => manager?.onClientError(tier, error);
  try {
    for (const [i, tierConfig] of resolved.tiers.entries()) {
      try {
        built.push(await buildTier(tierConfig, { clock, onEviction, onClientError }));
      } catch (error) {
        throw new StrataConfigError([
          {
            path: `tiers[${i}]`,
            message: `cannot open ${tierConfig.type} tier: ${(error as Error).message}`,
          },
        ]);
      }
    }
    manager = new Manager(
      built.map((tier, i) => {
        const c = resolved.tiers[i]!;
        return {
          tier,
          options: {
            timeoutMs: c.timeoutMs,
            breaker: c.breaker,
            ...(c.ttlSeconds ? { ttlMs: c.ttlSeconds * 1000 } : {}),
          },
        };
      }),
      {
        clock,
        logger,
        coalesceWaitMs: resolved.coalesceWaitMs,
        storePrompt: resolved.storePrompt,
        isUsable: isUsableByLangChain,
      },
    );
  } catch (error) {
    await Promise.allSettled(built.map(async (tier) => tier.close()));
    throw error;
  }
  manager.start();
  return new StrataCache(manager, {
    namespace: resolved.namespace,
    store: {},
    defaultTtlSeconds: resolved.defaultTtlSeconds,
    logger,
  });
}
