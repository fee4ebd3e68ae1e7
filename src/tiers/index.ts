/**
 * Config -> driver, through the registry (src/tiers/registry.ts) and the caller's own tier
 * definitions: no tier is named here.
 */
import { type ResolvedTierConfig, tierName } from '../config/schema.js';
import type { Tier } from '../core/tier.js';
import { TierConfigError } from '../errors.js';
import type { TierCapabilities, TierContext, TierDefinition } from './kit/definition.js';
import { BUILTIN_TIERS } from './registry.js';

export type { TierContext } from './kit/definition.js';

/** The definition of a config's tier type; undefined for `custom` (an instance, not a type). */
function definitionOf(type: string, extraTiers: readonly TierDefinition[]): TierDefinition | undefined {
  return [...BUILTIN_TIERS, ...extraTiers].find((d) => d.type === type);
}

/**
 * Whether a tier of this config keeps the fleet's counters (core/fleet.ts): known before the tier
 * opens, so a tier that is down at start-up still takes the reports once it is back.
 */
export function holdsCounters(config: { type: string }, extraTiers: readonly TierDefinition[] = []): boolean {
  return definitionOf(config.type, extraTiers)?.capabilities.counters === true;
}

/**
 * Whether encryption at rest seals this tier's payloads: every tier's but one that keeps nothing
 * beyond the process (`volatile`, memory). A custom tier object is sealed: the cache cannot know
 * where it keeps its bytes.
 */
export function sealsAtRest(config: { type: string }, extraTiers: readonly TierDefinition[] = []): boolean {
  return definitionOf(config.type, extraTiers)?.capabilities.volatile !== true;
}

/** Whether a tier of this config answers by similarity: keys marked `exact` (core/key.ts) never reach it. */
export function matchesBySimilarity(
  config: { type: string },
  extraTiers: readonly TierDefinition[] = [],
): boolean {
  return definitionOf(config.type, extraTiers)?.capabilities.similarity === true;
}

/** The built-in tier types that keep the fleet's counters (holdsCounters covers the caller's tiers too). */
export const COUNTER_TIERS: ReadonlySet<string> = new Set(tierTypesWith('counters'));

/** The built-in tier types that declare `capability`, in registry order. */
export function tierTypesWith(capability: keyof TierCapabilities): string[] {
  return BUILTIN_TIERS.filter((d) => d.capabilities[capability]).map((d) => d.type);
}

/**
 * Builds the driver for one tier. A TierConfigError means the config is wrong; any other error
 * means the backend cannot be opened now (createCache keeps the tier down and retries).
 */
export async function buildTier(
  config: ResolvedTierConfig,
  ctx: TierContext,
  extraTiers: readonly TierDefinition[] = [],
): Promise<Tier> {
  if (config.type === 'custom') return config.tier;
  const definition = definitionOf(config.type, extraTiers);
  if (!definition) throw new TierConfigError(`no tier type "${config.type}" is defined`);
  return definition.open(config, { ...ctx, name: tierName(config) });
}
