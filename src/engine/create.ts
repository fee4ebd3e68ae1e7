/** createStrata: a validated config in, a ready engine out (tiers opened, fleet reporting started). */
import { parseConfig, type ResolvedConfig, type StrataConfig, tierName } from '../config/schema.js';
import { type Clock, systemClock } from '../core/clock.js';
import { openOrDefer } from '../core/deferred-tier.js';
import { Keyring } from '../core/encryption/keyring.js';
import { errorOf } from '../core/error-of.js';
import type { Logger } from '../core/events.js';
import { DEFAULT_REPORT_SECONDS, FleetReporter } from '../core/fleet.js';
import { TierSink } from '../core/guarded-tier.js';
import { Manager } from '../core/manager.js';
import { type ProgressListener, progressLines } from '../core/progress.js';
import { EPHEMERAL_DIGEST_WARNING, onEphemeralDigest, useDigestKeyFromEnv } from '../core/secrets.js';
import type { Tier } from '../core/tier.js';
import { loadTracing } from '../core/tracing.js';
import { StrataConfigError, TierConfigError } from '../errors.js';
import { Savings } from '../monitor/savings.js';
import { buildTier, holdsCounters, matchesBySimilarity, sealsAtRest, tierTypesWith } from '../tiers/index.js';
import type { TierDefinition } from '../tiers/kit/definition.js';
import type { Strata } from './strata.js';

export interface CreateOptions<Extra extends TierDefinition = TierDefinition> {
  /** Time source for expiry and breakers (tests inject a manual clock). */
  clock?: Clock;
  /** Where warnings go (a tier going down, recovering); defaults to console.warn. */
  logger?: Logger;
  /** Open file-backed tiers read-only and create nothing (inspecting commands); SQLite honours it. */
  readonly?: boolean;
  /** Tiers' health() runs a full integrity check where they have one (SQLite's quick_check). */
  integrityCheck?: boolean;
  /** Environment the digest key is read from (the variable `digestKeyEnv` names; default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Definitions of your own tiers (defineTier): the config may then name them by their type. */
  tiers?: readonly Extra[];
  /**
   * Where tiers report long work while they open (the semantic tier indexing its entries);
   * default: a warning through `logger` when the work has run two seconds, then every five.
   */
  onProgress?: ProgressListener;
}

export async function createStrata<const Extra extends TierDefinition = never>(
  config: StrataConfig<NoInfer<Extra>> | ResolvedConfig,
  options: CreateOptions<Extra> = {},
): Promise<Strata> {
  const resolved = parseConfig(config, options.tiers);
  // The key of the HMAC that replaces secret-looking values in llm strings (core/secrets.ts).
  const digestKeyProblem = useDigestKeyFromEnv(resolved.digestKeyEnv, options.env ?? process.env);
  if (digestKeyProblem) throw new StrataConfigError([{ path: 'digestKeyEnv', message: digestKeyProblem }]);
  // Encryption at rest (docs/encryption.md): keys read from their variables now, so a missing
  // or malformed one is a config error, not entries that never open.
  const keyring = resolved.encryption && Keyring.fromConfig(resolved.encryption, options.env ?? process.env);
  // @opentelemetry/api, if installed (core/tracing.ts): loaded once, before the first lookup.
  if (resolved.tracing) await loadTracing();
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? { warn: (message: string) => console.warn(message) };
  const built: Tier[] = [];
  let manager: Manager | undefined;
  // Each tier reports evictions and client errors to its own sink, connected to its guarded tier
  // when the manager registers it.
  const sinks = resolved.tiers.map(() => new TierSink());
  const onProgress = options.onProgress ?? progressLines(logger);
  const context = (sink: TierSink, tier: string) => ({
    clock,
    onEviction: sink.onEviction,
    onClientError: sink.onClientError,
    onProgress: (task: string, done: number, total: number) => onProgress({ tier, task, done, total }),
    warn: (message: string) => logger.warn(`[strata] tier ${tier}: ${message}`),
    readonly: options.readonly,
    integrityCheck: options.integrityCheck,
    ...(keyring ? { sealer: keyring } : {}),
  });
  try {
    for (const [i, tierConfig] of resolved.tiers.entries()) {
      // Only a bad config is fatal. A backend that cannot be opened now (a damaged or locked
      // file, a newer schema, a server that is down) makes its tier down with the reason while
      // the others serve; it is re-opened in the background, backing off like the breaker.
      try {
        built.push(
          await openOrDefer(
            () => buildTier(tierConfig, context(sinks[i]!, tierName(tierConfig)), options.tiers),
            {
              name: tierName(tierConfig),
              type: tierConfig.type,
              retryMs: tierConfig.breaker.cooldownMs,
              maxRetryMs: tierConfig.breaker.maxCooldownMs,
              logger,
              holdsCounters: holdsCounters(tierConfig, options.tiers),
              isConfigError: (error) =>
                error instanceof TierConfigError || error instanceof StrataConfigError,
            },
          ),
        );
      } catch (error) {
        throw new StrataConfigError(
          [
            {
              path: `tiers[${i}]`,
              message: `cannot open ${tierConfig.type} tier: ${errorOf(error).message}`,
            },
          ],
          { cause: error },
        );
      }
    }
    manager = new Manager(
      built.map((tier, i) => {
        const c = resolved.tiers[i]!;
        return {
          tier,
          sink: sinks[i],
          options: {
            timeoutMs: c.timeoutMs,
            breaker: c.breaker,
            sealed: sealsAtRest(c, options.tiers),
            encrypted: keyring !== undefined,
            similarity: matchesBySimilarity(c, options.tiers),
            ...(c.ttlSeconds ? { ttlMs: c.ttlSeconds * 1000 } : {}),
          },
        };
      }),
      {
        clock,
        logger,
        coalesceWaitMs: resolved.coalesceWaitMs,
        storePrompt: resolved.storePrompt,
        namespace: resolved.namespace,
        defaultTtlSeconds: resolved.defaultTtlSeconds,
        staleIfErrorSeconds: resolved.staleIfErrorSeconds,
        tracing: resolved.tracing,
        ...(keyring
          ? { encryption: { sealer: keyring, acceptPlaintext: resolved.encryption!.acceptPlaintext } }
          : {}),
      },
    );
  } catch (error) {
    await Promise.allSettled(built.map(async (tier) => tier.close()));
    throw error;
  }
  manager.start();
  warnOfEphemeralDigests(manager, logger);
  startFleetReporter(manager, resolved, options);
  return manager;
}

/**
 * The first secret-looking value digested under a random per-process key (no STRATA_DIGEST_KEY)
 * is said once, through the logger and a `warning` event: such entries are not shared.
 */
function warnOfEphemeralDigests(manager: Manager, logger: Logger): void {
  const stop = onEphemeralDigest((message) => {
    logger.warn(message);
    manager.events.emit('warning', { code: EPHEMERAL_DIGEST_WARNING, message });
  });
  manager.onClose(async () => stop());
}

/** Reports this process's counters to the shared tier that holds the fleet's (core/fleet.ts). */
function startFleetReporter(manager: Manager, config: ResolvedConfig, options: CreateOptions): void {
  const intervalSeconds = config.monitoring?.reportSeconds ?? DEFAULT_REPORT_SECONDS;
  const store = manager.queries.fleetStore();
  if (!store || intervalSeconds === 0 || options.readonly) return;
  // The reporter counts hits (savings, namespaces, similarity) from the manager's events itself.
  const similar = new Set([
    ...tierTypesWith('similarity'),
    ...(options.tiers ?? []).filter((d) => d.capabilities.similarity).map((d) => d.type),
  ]);
  const similarityTiers = config.tiers.filter((t) => similar.has(t.type)).map((t) => tierName(t));
  const reporter = new FleetReporter(manager, store, new Savings(), intervalSeconds * 1000, similarityTiers);
  manager.onClose(() => reporter.close());
}
