/**
 * What a tier is to the rest of Strata: a type name, the zod schema of its config, the optional
 * client package it needs, what it can do beyond the Tier interface, and how to open it. The
 * config union, the lazy loader and the capability checks are all derived from a list of these
 * (src/tiers/registry.ts), so a tier is its folder plus one line there.
 */
import type { z } from 'zod';
import { common } from '../../config/fields.js';
import type { Clock } from '../../core/clock.js';
import type { Sealer } from '../../core/encryption/keyring.js';
import type { EvictionListener, Tier } from '../../core/tier.js';

/** What a tier can do beyond the Tier interface, known before it opens. */
export interface TierCapabilities {
  /** Keeps the fleet's counters (core/fleet.ts): a tier down at start-up takes reports once back. */
  counters?: boolean;
  /** Finds entries by prompt text (`search`). */
  search?: boolean;
  /** Persists daily hits, misses and latency (`daily`, `strata stats --days`). */
  daily?: boolean;
  /** Answers by similarity, not only by exact key. */
  similarity?: boolean;
  /** Compares or keys entries by prompt text, so the cache must keep it (`storePrompt: true`). */
  prompts?: boolean;
  /**
   * Keeps nothing beyond this process (memory): under `encryption` its payloads are not sealed,
   * since there is nothing at rest to protect (docs/encryption.md). Every other tier's are.
   */
  volatile?: boolean;
  /**
   * Keeps prompt or answer text where Strata cannot seal it (GPTCache's own server): refused
   * under `encryption`, which would otherwise not hold.
   */
  plaintext?: boolean;
}

export interface TierContext {
  clock: Clock;
  /** Open file-backed tiers read-only and create nothing (inspecting commands: stats, doctor). SQLite honours it. */
  readonly?: boolean;
  /** health() runs a full integrity check where the backend has one (SQLite's quick_check): `strata doctor`. */
  integrityCheck?: boolean;
  /**
   * Under `encryption`: seals what a tier keeps beside the payloads the manager seals (the
   * semantic tier's question text). Undefined when encryption is off.
   */
  sealer?: Sealer;
  /** This tier's sink for evictions it makes on its own (TierSink in core/guarded-tier.ts). */
  onEviction: EvictionListener;
  /** For errors a client reports outside any call (socket resets, failovers). */
  onClientError: (error: Error) => void;
  /** How far long work at open has come (the semantic tier indexing its entries): `done` of `total`. */
  onProgress?: (task: string, done: number, total: number) => void;
  /**
   * Something found at open that the tier repaired on its own (a saved index it refused and
   * rebuilt): said through the cache's logger, since the tier's sink takes reports only once the
   * manager has registered it.
   */
  warn?: (message: string) => void;
}

/** What `open` is given: the cache's context and the name the tier is known by in stats. */
export interface TierOpenContext extends TierContext {
  name: string;
}

/**
 * The fields every tier's config has (name, ttlSeconds, timeoutMs, breaker): the cache reads
 * them to guard the tier, so a tier's schema spreads them beside its own fields.
 */
export const tierFields = common;

/** The schema of one tier's config: a zod object with `type: z.literal(...)` and the tierFields. */
export type TierSchema<T extends string = string> = z.ZodObject<
  { type: z.ZodLiteral<T> } & typeof tierFields & z.ZodRawShape
>;

export interface TierDefinition<T extends string = string, S extends TierSchema<T> = TierSchema<T>> {
  readonly type: T;
  readonly schema: S;
  /** The client package the driver imports, when it is an optional peer dependency. */
  readonly package?: string;
  readonly capabilities: TierCapabilities;
  /**
   * Builds the driver from a validated config; imports it (and its client) lazily so a config
   * that does not name this tier never loads them. A TierConfigError means the config is wrong;
   * any other error means the backend cannot be opened now (the tier stays down and retries).
   */
  open(config: z.output<S>, ctx: TierOpenContext): Promise<Tier>;
}

/** Declares a tier; the identity, for the types it infers. */
export function defineTier<const T extends string, S extends TierSchema<T>>(
  definition: TierDefinition<T, S>,
): TierDefinition<T, S> {
  return definition;
}

/** The validated config of a definition's tier. */
export type ResolvedConfigOf<D> = D extends TierDefinition<string, infer S> ? z.output<S> : never;
/** The config of a definition's tier as written. */
export type ConfigOf<D> = D extends TierDefinition<string, infer S> ? z.input<S> : never;
