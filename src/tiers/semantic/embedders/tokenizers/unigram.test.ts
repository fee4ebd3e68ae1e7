import { describe, expect, it } from 'vitest';
import { OnnxSetupError } from '../../../../errors.js';
import { UnigramTokenizer } from './unigram.js';

describe('Unigram tokenizer (hand-made vocabulary)', () => {
  const tokenizer = new UnigramTokenizer({
    normalizer: { type: 'CodepointMap', map: { '65': [97], '9': [32], '65313': [97] } },
    model: {
      type: 'Unigram',
      unk_id: 3,
      vocab: [
        ['<s>', 0],
        ['<pad>', 0],
        ['</s>', 0],
        ['<unk>', 0],
        ['\u2581', -2],
        ['\u2581a', -3],
        ['b', -3],
        ['ab', -5],
        ['\u2581ab', -7],
        ['\u2581c', -1],
      ],
    },
  });

  it('picks the most probable segmentation, marking word starts with \u2581', () => {
    // ▁a + b scores -6, ▁ab -7: two pieces win here.
    expect(tokenizer.encode('ab', 16)).toEqual([0, 5, 6, 2]);
    expect(tokenizer.encode('c ab', 16)).toEqual([0, 9, 5, 6, 2]);
  });

  it('normalizes code points and collapses runs of spaces', () => {
    // A and Ａ map to a; a tab maps to a space; three spaces become one.
    expect(tokenizer.encode('A\tc', 16)).toEqual(tokenizer.encode('a c', 16));
    expect(tokenizer.encode('Ａ   c', 16)).toEqual(tokenizer.encode('a c', 16));
  });

  it('ignores the table where it would fold a compatibility form that changes meaning', () => {
    // The table maps ª (a superscript a) to a, as nmt_nfkc does: 1ª (first) would read as 1a.
    const folding = new UnigramTokenizer({
      normalizer: { type: 'CodepointMap', map: { '170': [97], '65313': [97] } },
      model: {
        type: 'Unigram',
        unk_id: 3,
        vocab: [
          ['<s>', 0],
          ['<pad>', 0],
          ['</s>', 0],
          ['<unk>', 0],
          ['\u2581a', -1],
          ['^', -1],
          ['a', -1],
        ],
      },
    });
    expect(folding.normalize('ª')).toBe('\u2581^a');
    expect(folding.normalize('Ａ')).toBe('\u2581a');
  });

  it('without a table, applies NFC and the safe folds, not NFKC', () => {
    const plain = new UnigramTokenizer({
      model: {
        type: 'Unigram',
        unk_id: 3,
        vocab: [
          ['<s>', 0],
          ['<pad>', 0],
          ['</s>', 0],
          ['<unk>', 0],
        ],
      },
    });
    expect(plain.normalize('ＡＢ ﬁ e\u0301')).toBe('\u2581AB\u2581fi\u2581\u00e9');
    expect(plain.normalize('10² H₂O ½ ①')).toBe('\u258110^2\u2581H_2O\u25811/2\u2581(1)');
  });

  it('turns a character no piece covers into <unk>, one per character', () => {
    expect(tokenizer.encode('a猫猫', 16)).toEqual([0, 5, 3, 3, 2]);
  });

  it('cuts the pieces so that <s> and </s> still fit', () => {
    const ids = tokenizer.encode('c c c c c c c c', 5);
    expect(ids).toEqual([0, 9, 9, 9, 2]);
  });

  it('rejects a tokenizer.json that is not Unigram', () => {
    expect(() => new UnigramTokenizer({ model: { type: 'BPE', vocab: [] } })).toThrow(/Unigram/);
    expect(() => new UnigramTokenizer({ model: { type: 'BPE', vocab: [] } })).toThrow(OnnxSetupError);
  });
});
