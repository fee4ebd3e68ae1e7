/** The tokenizer a model folder ships, behind the one interface the onnx embedder uses. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OnnxSetupError } from '../../../../errors.js';
import type { TextTokenizer } from './text-tokenizer.js';
import { UnigramTokenizer } from './unigram.js';
import { WordPieceTokenizer } from './wordpiece.js';

export type { TextTokenizer } from './text-tokenizer.js';

/** The tokenizer a model folder ships: tokenizer.json (Unigram or WordPiece) or vocab.txt. */
export function loadTokenizer(modelPath: string): TextTokenizer {
  const json = join(modelPath, 'tokenizer.json');
  if (existsSync(json)) {
    const spec = JSON.parse(readFileSync(json, 'utf8')) as {
      model?: { type?: string; vocab?: Record<string, number> };
    };
    if (spec.model?.type === 'Unigram') return new UnigramTokenizer(spec as never);
    if (spec.model?.type === 'WordPiece' && spec.model.vocab) {
      const lines: string[] = [];
      for (const [token, id] of Object.entries(spec.model.vocab)) lines[id] = token;
      return new WordPieceTokenizer(Array.from(lines, (t) => t ?? '').join('\n'));
    }
    throw new OnnxSetupError(`${json}: unsupported tokenizer model ${spec.model?.type}`);
  }
  return new WordPieceTokenizer(readFileSync(join(modelPath, 'vocab.txt'), 'utf8'));
}
