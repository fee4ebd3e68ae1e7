/**
 * The semantic tier: its embedder (lexical, onnx or a LangChain object, behind an embedding
 * cache), threshold, optional verifier and optional shared PostgreSQL store, assembled from the
 * config. Every part is imported on open, so a config without a semantic tier loads none of them.
 */
import { resolve } from 'node:path';
import { OnnxSetupError, TierConfigError } from '../../errors.js';
import { defineTier } from '../kit/definition.js';
import { loadDriver } from '../kit/load.js';
import { type SemanticTierConfig, semanticTierSchema } from './config.js';

const PACKAGE = 'better-sqlite3';
const STORE_PACKAGE = 'pg';

/** An onnx model for a semantic tier's `field`; a missing runtime or model is a config error naming it. */
async function onnxFor(
  field: 'embeddings' | 'verifier',
  batching: SemanticTierConfig['batching'],
  modelPath?: string,
  model?: 'multilingual-e5-small',
) {
  const { defaultModelPath, onnxEmbedder } = await import('./embedders/onnx.js');
  try {
    return await onnxEmbedder({
      modelPath: modelPath ?? defaultModelPath(model),
      ...(batching === undefined ? {} : { batching }),
    });
  } catch (error) {
    if (error instanceof OnnxSetupError)
      throw new TierConfigError(`${field}: ${error.message}`, { cause: error });
    throw error;
  }
}

export const semanticTier = defineTier({
  type: 'semantic',
  schema: semanticTierSchema,
  package: PACKAGE,
  capabilities: { similarity: true, prompts: true },
  async open(config, ctx) {
    const { fromLangChain } = await import('./embedders/langchain.js');
    const { withEmbeddingCache } = await import('./embedders/embedding-cache.js');
    const { DEFAULT_THRESHOLDS, lexicalEmbedder } = await import('./embedders/lexical.js');
    const e = config.embeddings;
    const base =
      e === 'lexical'
        ? lexicalEmbedder()
        : e === 'onnx'
          ? await onnxFor('embeddings', config.batching, config.modelPath)
          : fromLangChain(e);
    const embedder = withEmbeddingCache(base);
    // The schema requires a threshold with custom embeddings; the built-in ones have measured defaults.
    // Under a bound the threshold is the floor the learner decides above: by default the measured
    // one, so a bound only ever serves less than the fixed threshold would (docs/semantic-bound.md).
    const threshold =
      config.threshold ?? base.defaultThreshold ?? DEFAULT_THRESHOLDS[e as keyof typeof DEFAULT_THRESHOLDS];
    const { SemanticTier } = await loadDriver('semantic', PACKAGE, () => import('./index.js'));
    const { store: shared, ...rest } = config;
    const store = shared
      ? new (
          await loadDriver('semantic', STORE_PACKAGE, () => import('./stores/postgres-store.js'))
        ).PostgresStore({
          ...shared,
          embedderId: embedder.id,
          maxEntries: config.maxEntries,
          onClientError: ctx.onClientError,
        })
      : undefined;
    const verifierModel =
      typeof config.verifier === 'object'
        ? await onnxFor('verifier', config.batching, config.verifier.modelPath, 'multilingual-e5-small')
        : undefined;
    const verifier =
      typeof config.verifier === 'object'
        ? (await import('./embedders/verifier.js')).embedderVerifier(
            withEmbeddingCache(verifierModel!),
            config.verifier.threshold,
          )
        : config.verifier;
    const { patternExtractor } = await import('./question/request.js');
    return new SemanticTier({
      ...rest,
      ...(store ? { store } : {}),
      name: ctx.name,
      ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}),
      ...(ctx.warn ? { onWarning: ctx.warn } : {}),
      embedder,
      threshold,
      path: config.path === ':memory:' ? config.path : resolve(config.path),
      verifier,
      ...(config.queryPattern ? { extractQuery: patternExtractor(config.queryPattern) } : {}),
      purgeIntervalMs: config.purgeIntervalSeconds * 1000,
      clock: ctx.clock,
      ...(ctx.readonly ? { readonly: true } : {}),
      onClientError: ctx.onClientError,
      ...(ctx.sealer ? { sealer: ctx.sealer } : {}),
      // The onnx models' queued texts fail at close (their batchers hold no timer once idle).
      release: async () => {
        await Promise.all([embedder.close?.(), verifierModel?.close()]);
      },
    });
  },
});
