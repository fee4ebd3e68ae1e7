import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OnnxSetupError } from '../../../../errors.js';
import { loadTokenizer } from './tokenizer.js';
import { WordPieceTokenizer } from './wordpiece.js';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'how', 'do', '##es', 'it', '?'];

describe('loadTokenizer', () => {
  const dirs: string[] = [];
  const folder = (files: Record<string, string>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-tokenizer-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('reads a WordPiece vocabulary from vocab.txt or from tokenizer.json alike', () => {
    const vocab = Object.fromEntries(VOCAB.map((token, id) => [token, id]));
    const fromText = loadTokenizer(folder({ 'vocab.txt': VOCAB.join('\n') }));
    const fromJson = loadTokenizer(
      folder({ 'tokenizer.json': JSON.stringify({ model: { type: 'WordPiece', vocab } }) }),
    );
    expect(fromText.encode('How does it?', 16)).toEqual([2, 4, 5, 6, 7, 8, 3]);
    expect(fromJson.encode('How does it?', 16)).toEqual([2, 4, 5, 6, 7, 8, 3]);
    expect(fromText.encode('why', 16)).toEqual([2, fromText.unk, 3]);
  });

  it('refuses a tokenizer model it cannot run, as a setup error naming the file', () => {
    const dir = folder({ 'tokenizer.json': JSON.stringify({ model: { type: 'BPE' } }) });
    expect(() => loadTokenizer(dir)).toThrow(OnnxSetupError);
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer\.json: unsupported tokenizer model BPE/);
  });

  it('refuses a WordPiece vocabulary without its special tokens', () => {
    expect(() => new WordPieceTokenizer('how\ndo')).toThrow(OnnxSetupError);
    expect(() => new WordPieceTokenizer('how\ndo')).toThrow(/no \[UNK\] token/);
  });
});
