/** Config type -> driver. The only file that knows every tier. */
import { resolve } from 'node:path';
import { type ResolvedTierConfig, tierName } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { EvictionListener, Tier } from '../core/tier.js';
import { OnnxSetupError, TierConfigError } from '../errors.js';
import { withEmbeddingCache } from './semantic/embedders/embedding-cache.js';
import { fromLangChain } from './semantic/embedders/langchain.js';
import { DEFAULT_THRESHOLDS, lexicalEmbedder } from './semantic/embedders/lexical.js';
import { defaultModelPath, onnxEmbedder } from './semantic/embedders/onnx.js';
import { embedderVerifier } from './semantic/embedders/verifier.js';
import { patternExtractor } from './semantic/question/request.js';

/**
 * Each tier's module (and the client library it imports) is loaded only when a config names that
 * tier: a memory + SQLite user never loads mysql2, pg, mongodb or @redis/client, and need not install
 * them (they are optional peer dependencies). A client that is not installed is a config error
 * naming the package and the command that installs it.
 */
async function load<T>(tier: string, pkg: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    // Only the client package itself being absent is this error; anything else (a broken native
    // build, a missing dependency of the client) is reported as it is.
    const code = (error as NodeJS.ErrnoException).code;
    if (
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      String(error).includes(`'${pkg}'`)
    ) {
      throw new TierConfigError(
        `the ${tier} tier needs the package ${pkg}, which is not installed: npm install ${pkg}`,
      );
    }
    throw error;
  }
}

/** An onnx model for a semantic tier's `field`; a missing runtime or model is a config error naming it. */
async function onnxFor(field: 'embeddings' | 'verifier', modelPath: string) {
  try {
    return await onnxEmbedder({ modelPath });
  } catch (error) {
    if (error instanceof OnnxSetupError) throw new TierConfigError(`${field}: ${error.message}`);
    throw error;
  }
}

/** The optional client package of each tier type that has one. */
export const TIER_PACKAGES = {
  mysql: 'mysql2',
  postgres: 'pg',
  redis: '@redis/client',
  mongodb: 'mongodb',
  sqlite: 'better-sqlite3',
  semantic: 'better-sqlite3',
} as const;

/**
 * Tier types that keep the fleet's counters (core/fleet.ts): known before a tier opens, so a tier
 * that is down at start-up still takes the reports once it is back.
 */
export const COUNTER_TIERS: ReadonlySet<string> = new Set(['sqlite', 'redis']);

export interface TierContext {
  clock: Clock;
  /** Open file-backed tiers read-only and create nothing (inspecting commands: stats, doctor). SQLite honours it. */
  readonly?: boolean;
  /** health() runs a full integrity check where the backend has one (SQLite's quick_check): `strata doctor`. */
  integrityCheck?: boolean;
  /** This tier's sink for evictions it makes on its own (TierSink in core/guarded-tier.ts). */
  onEviction: EvictionListener;
  /** For errors a client reports outside any call (socket resets, failovers). */
  onClientError: (error: Error) => void;
}

/**
 * Builds the driver for one tier. A TierConfigError means the config is wrong; any other error
 * means the backend cannot be opened now (createCache keeps the tier down and retries).
 */
export async function buildTier(config: ResolvedTierConfig, ctx: TierContext): Promise<Tier> {
  const name = tierName(config);
  switch (config.type) {
    case 'custom':
      return config.tier;
    case 'memory': {
      const { MemoryTier } = await import('./memory/index.js');
      return new MemoryTier({ ...config, name, clock: ctx.clock, onEviction: ctx.onEviction });
    }
    case 'mysql': {
      const { MysqlTier } = await load('mysql', TIER_PACKAGES.mysql, () => import('./mysql/index.js'));
      return new MysqlTier({
        ...config,
        name,
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        clock: ctx.clock,
      });
    }
    case 'postgres': {
      const { PostgresTier } = await load(
        'postgres',
        TIER_PACKAGES.postgres,
        () => import('./postgres/index.js'),
      );
      return new PostgresTier({
        ...config,
        name,
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        clock: ctx.clock,
        onClientError: ctx.onClientError,
      });
    }
    case 'gptcache': {
      const { GptcacheTier } = await import('./gptcache/index.js');
      return new GptcacheTier({ ...config, name, clock: ctx.clock });
    }
    case 'mongodb': {
      const { MongodbTier } = await load(
        'mongodb',
        TIER_PACKAGES.mongodb,
        () => import('./mongodb/index.js'),
      );
      return new MongodbTier({
        ...config,
        name,
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        clock: ctx.clock,
      });
    }
    case 'redis': {
      const { RedisTier } = await load('redis', TIER_PACKAGES.redis, () => import('./redis/index.js'));
      return new RedisTier({
        ...config,
        name,
        clock: ctx.clock,
        onClientError: ctx.onClientError,
      });
    }
    case 'semantic': {
      const e = config.embeddings;
      const base =
        e === 'lexical'
          ? lexicalEmbedder()
          : e === 'onnx'
            ? await onnxFor('embeddings', config.modelPath ?? defaultModelPath())
            : fromLangChain(e);
      const embedder = withEmbeddingCache(base);
      // The schema requires a threshold with custom embeddings; the built-in ones have measured defaults.
      const threshold =
        config.threshold ?? base.defaultThreshold ?? DEFAULT_THRESHOLDS[e as keyof typeof DEFAULT_THRESHOLDS];
      const { SemanticTier } = await load(
        'semantic',
        TIER_PACKAGES.semantic,
        () => import('./semantic/index.js'),
      );
      const { store: shared, ...rest } = config;
      const store = shared
        ? new (
            await load(
              'semantic',
              TIER_PACKAGES.postgres,
              () => import('./semantic/stores/postgres-store.js'),
            )
          ).PostgresStore({
            ...shared,
            embedderId: embedder.id,
            maxEntries: config.maxEntries,
            onClientError: ctx.onClientError,
          })
        : undefined;
      return new SemanticTier({
        ...rest,
        ...(store ? { store } : {}),
        name,
        embedder,
        threshold,
        path: config.path === ':memory:' ? config.path : resolve(config.path),
        verifier:
          typeof config.verifier === 'object'
            ? embedderVerifier(
                withEmbeddingCache(
                  await onnxFor(
                    'verifier',
                    config.verifier.modelPath ?? defaultModelPath('multilingual-e5-small'),
                  ),
                ),
                config.verifier.threshold,
              )
            : config.verifier,
        ...(config.queryPattern ? { extractQuery: patternExtractor(config.queryPattern) } : {}),
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        clock: ctx.clock,
        ...(ctx.readonly ? { readonly: true } : {}),
        onClientError: ctx.onClientError,
      });
    }
    case 'sqlite': {
      const { SqliteTier } = await load('sqlite', TIER_PACKAGES.sqlite, () => import('./sqlite/index.js'));
      return new SqliteTier({
        ...config,
        name,
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        readonly: ctx.readonly,
        integrityCheck: ctx.integrityCheck,
        clock: ctx.clock,
        onEviction: ctx.onEviction,
      });
    }
  }
}
