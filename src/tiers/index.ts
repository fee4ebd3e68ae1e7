/** Config type -> driver. The only file that knows every tier. */
import { resolve } from 'node:path';
import type { ResolvedTierConfig } from '../config/schema.js';
import type { Clock } from '../core/clock.js';
import type { EvictionListener, Tier } from '../core/tier.js';
import { GptcacheTier } from './gptcache/index.js';
import { MemoryTier } from './memory/index.js';
import { MongodbTier } from './mongodb/index.js';
import { MysqlTier } from './mysql/index.js';
import { RedisTier } from './redis/index.js';
import { fromLangChain, withEmbeddingCache } from './semantic/embedder.js';
import { SemanticTier } from './semantic/index.js';
import { DEFAULT_THRESHOLDS, lexicalEmbedder } from './semantic/lexical.js';
import { defaultModelPath, onnxEmbedder } from './semantic/onnx.js';
import { patternExtractor } from './semantic/request.js';
import { embedderVerifier } from './semantic/verifier.js';
import { SqliteTier } from './sqlite/index.js';

export interface TierContext {
  clock: Clock;
  /** Open file-backed tiers read-only and create nothing (inspecting commands: stats, doctor). SQLite honours it. */
  readonly?: boolean;
  /** health() runs a full integrity check where the backend has one (SQLite's quick_check): `strata doctor`. */
  integrityCheck?: boolean;
  onEviction: EvictionListener;
  /** For errors a client reports outside any call (socket resets, failovers). */
  onClientError: (tier: string, error: Error) => void;
}

/** The tier's config cannot work, whatever the backend's state (createCache reports it as a config error). */
export class TierConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TierConfigError';
  }
}

/**
 * Builds the driver for one tier. A TierConfigError means the config is wrong; any other error
 * means the backend cannot be opened now (createCache keeps the tier down and retries).
 */
export async function buildTier(config: ResolvedTierConfig, ctx: TierContext): Promise<Tier> {
  const name = config.name ?? config.type;
  switch (config.type) {
    case 'memory':
      return new MemoryTier({
        name,
        maxEntries: config.maxEntries,
        maxBytes: config.maxBytes,
        clock: ctx.clock,
        onEviction: ctx.onEviction,
      });
    case 'mysql':
      return new MysqlTier({
        name,
        url: config.url,
        host: config.host,
        port: config.port,
        user: config.user,
        password: config.password,
        database: config.database,
        poolSize: config.poolSize,
        tablePrefix: config.tablePrefix,
        connectTimeoutMs: config.connectTimeoutMs,
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        clock: ctx.clock,
      });
    case 'gptcache':
      return new GptcacheTier({
        name,
        url: config.url,
        mode: config.mode,
        foreignAnswers: config.foreignAnswers,
        poolSize: config.poolSize,
        timeoutMs: config.timeoutMs,
        clock: ctx.clock,
      });
    case 'mongodb':
      return new MongodbTier({
        name,
        url: config.url,
        database: config.database,
        collection: config.collection,
        gridfsThresholdBytes: config.gridfsThresholdBytes,
        poolSize: config.poolSize,
        connectTimeoutMs: config.connectTimeoutMs,
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        clock: ctx.clock,
      });
    case 'redis':
      return new RedisTier({
        name,
        mode: config.mode,
        url: config.url,
        sentinels: config.sentinels,
        sentinelName: config.sentinelName,
        nodes: config.nodes,
        username: config.username,
        password: config.password,
        tls: config.tls,
        keyPrefix: config.keyPrefix,
        connectTimeoutMs: config.connectTimeoutMs,
        bus: config.bus,
        client: config.client,
        clock: ctx.clock,
        onClientError: (error) => ctx.onClientError(name, error),
      });
    case 'semantic': {
      const e = config.embeddings;
      const base =
        e === 'lexical'
          ? lexicalEmbedder()
          : e === 'onnx'
            ? await onnxEmbedder({ modelPath: config.modelPath ?? defaultModelPath() })
            : fromLangChain(e);
      const embedder = withEmbeddingCache(base);
      const threshold =
        config.threshold ??
        base.defaultThreshold ??
        (typeof e === 'string' ? DEFAULT_THRESHOLDS[e] : undefined);
      if (threshold === undefined) {
        throw new TierConfigError('threshold: required with custom embeddings (cosine similarity, -1..1)');
      }
      return new SemanticTier({
        name,
        embedder,
        threshold,
        thresholds: config.thresholds,
        path: config.path === ':memory:' ? config.path : resolve(config.path),
        maxEntries: config.maxEntries,
        guards: config.guards,
        verifier:
          typeof config.verifier === 'object'
            ? embedderVerifier(
                withEmbeddingCache(
                  await onnxEmbedder({
                    modelPath: config.verifier.modelPath ?? defaultModelPath('multilingual-e5-small'),
                  }),
                ),
                config.verifier.threshold,
              )
            : config.verifier,
        candidates: config.candidates,
        maxQueryChars: config.maxQueryChars,
        ...(config.queryPattern ? { extractQuery: patternExtractor(config.queryPattern) } : {}),
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        clock: ctx.clock,
      });
    }
    case 'sqlite':
      return new SqliteTier({
        name,
        path: config.path,
        maxEntries: config.maxEntries,
        maxBytes: config.maxBytes,
        purgeIntervalMs: config.purgeIntervalSeconds * 1000,
        busyTimeoutMs: config.busyTimeoutMs,
        timeoutMs: config.timeoutMs,
        readonly: ctx.readonly,
        integrityCheck: ctx.integrityCheck,
        clock: ctx.clock,
        onEviction: ctx.onEviction,
      });
  }
}
