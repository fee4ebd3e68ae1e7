/**
 * Micro-batching (batcher.ts) against the real models: texts of concurrent calls share a run and
 * still get exactly the vectors single runs give; callers get their own vectors in order; a run
 * that fails fails only the caller whose text the model cannot run; close fails what is queued.
 */
import { appendFileSync, copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { onnxModel } from '../../../../test/support/services.js';
import { parseConfig } from '../../../config/schema.js';
import { TierUnavailableError } from '../../../errors.js';
import { createCache } from '../../../langchain/create.js';
import { type OnnxEmbedder, onnxEmbedder } from './onnx.js';

const MINILM = onnxModel();
const E5 = onnxModel('multilingual-e5-small');
const LLM = 'model:"gpt-test"';

/** Texts of very different lengths and scripts: padding must not change any row's vector. */
const MIXED = [
  'How do I reset my password?',
  'hi',
  `Please summarize the following policy for me: ${'employees may work remotely up to three days a week, '.repeat(30)}`,
  '如何重置我的密码？',
  'ok\u200b then\u2060 what?',
  'Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u{1F44D}',
  'What is 15% of 80?',
  'x',
  '\u0645\u0627 \u0647\u064a \u0639\u0627\u0635\u0645\u0629 \u0641\u0631\u0646\u0633\u0627\u061f',
  'Explain the difference between a process and a thread in an operating system, with an example.',
];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Each text alone, in a run of its own. */
async function singles(texts: string[], model: string): Promise<Float32Array[]> {
  const single = await onnxEmbedder({ modelPath: model, batching: false });
  const out: Float32Array[] = [];
  for (const t of texts) out.push((await single.embed([t]))[0] as Float32Array);
  await single.close();
  return out;
}

const dirs: string[] = [];
const embedders: OnnxEmbedder[] = [];
afterAll(async () => {
  await Promise.all(embedders.map((e) => e.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
async function batched(options: Parameters<typeof onnxEmbedder>[0]): Promise<OnnxEmbedder> {
  const e = await onnxEmbedder(options);
  embedders.push(e);
  return e;
}

describe('onnx micro-batching', () => {
  for (const [name, model] of [
    ['all-MiniLM-L6-v2', MINILM],
    ['multilingual-e5-small', E5],
  ] as const) {
    it(`gives each text of a shared run the vector a run of its own gives (${name})`, async () => {
      const expected = await singles(MIXED, model);
      const e = await batched({ modelPath: model });
      const before = e.batcher!.runs;
      const got = await Promise.all(MIXED.map((t) => e.embed([t])));
      // Every call was made in one turn of the event loop: they shared runs (of similar length).
      expect(e.batcher!.runs - before).toBeLessThan(MIXED.length / 2);
      for (const [i, [v]] of got.entries())
        expect(maxDiff(v as Float32Array, expected[i]!)).toBeLessThan(1e-5);
      // And one caller's several texts, in one run too.
      const together = await e.embed(MIXED);
      for (const [i, v] of together.entries())
        expect(maxDiff(v as Float32Array, expected[i]!)).toBeLessThan(1e-5);
    });
  }

  it('returns each caller its own vectors, in order, across runs split by text and token bounds', async () => {
    const expected = await singles(MIXED, MINILM);
    const byText = new Map(MIXED.map((t, i) => [t, expected[i]!]));
    // 3 texts a run, and at most 120 padded tokens: the long text runs alone.
    const e = await batched({ modelPath: MINILM, batching: { maxTexts: 3, maxTokens: 120, maxWaitMs: 1 } });
    const callers = [
      [MIXED[0]!, MIXED[1]!, MIXED[2]!, MIXED[3]!],
      [MIXED[4]!],
      [],
      [MIXED[9]!, MIXED[8]!, MIXED[7]!, MIXED[6]!, MIXED[5]!],
      [MIXED[2]!, MIXED[0]!],
    ];
    const before = e.batcher!.runs;
    const got = await Promise.all(callers.map((texts) => e.embed(texts)));
    for (const [c, vectors] of got.entries()) {
      expect(vectors).toHaveLength(callers[c]!.length);
      for (const [i, v] of vectors.entries())
        expect(maxDiff(v as Float32Array, byText.get(callers[c]![i]!)!)).toBeLessThan(1e-5);
    }
    // 12 texts, at most 3 a run, the two long ones each alone: at least 5 runs.
    expect(e.batcher!.runs - before).toBeGreaterThanOrEqual(5);
    expect(e.batcher!.runs - before).toBeLessThan(12);
  });

  it('fails only the caller whose text the model cannot run', async () => {
    // A vocabulary one token longer than the model's embedding table: that token's id is out of
    // range and onnxruntime refuses the run (a real failure of a real run).
    const dir = mkdtempSync(join(tmpdir(), 'strata-batcher-'));
    dirs.push(dir);
    symlinkSync(join(MINILM, 'model.onnx'), join(dir, 'model.onnx'));
    copyFileSync(join(MINILM, 'vocab.txt'), join(dir, 'vocab.txt'));
    appendFileSync(join(dir, 'vocab.txt'), 'zzqqxx\n');
    const e = await batched({ modelPath: dir });
    const expected = await singles(['hello there', 'good morning'], MINILM);
    await expect(e.embed(['zzqqxx'])).rejects.toThrow();
    const before = e.batcher!.runs;
    const results = await Promise.allSettled([
      e.embed(['hello there']),
      e.embed(['zzqqxx']),
      e.embed(['good morning']),
      e.embed(['hello there', 'zzqqxx']),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    expect(
      maxDiff((results[0] as PromiseFulfilledResult<Float32Array[]>).value[0]!, expected[0]!),
    ).toBeLessThan(1e-5);
    expect(
      maxDiff((results[2] as PromiseFulfilledResult<Float32Array[]>).value[0]!, expected[1]!),
    ).toBeLessThan(1e-5);
    // The shared run failed, then each of its texts ran alone.
    expect(e.batcher!.runs - before).toBeGreaterThan(5);
    // The embedder still works.
    expect(maxDiff((await e.embed(['good morning']))[0] as Float32Array, expected[1]!)).toBeLessThan(1e-5);
  });

  it('at close fails what is queued, finishes the run in progress and leaves no timer', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const e = await onnxEmbedder({ modelPath: MINILM, batching: { maxWaitMs: 50 } });
    const idle = timers();
    const queued = [e.embed(['one']), e.embed(['two'])];
    expect(timers()).toBe(idle + 1);
    await e.close();
    expect(timers()).toBe(idle);
    expect(e.batcher!.idle).toBe(true);
    for (const q of queued) await expect(q).rejects.toBeInstanceOf(TierUnavailableError);
    await expect(e.embed(['three'])).rejects.toBeInstanceOf(TierUnavailableError);

    // A run in progress ends for its callers; what waits behind it fails.
    const f = await onnxEmbedder({ modelPath: MINILM });
    const running = f.embed(['first']);
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = f.embed(['second']);
    const closed = f.close();
    await expect(waiting).rejects.toBeInstanceOf(TierUnavailableError);
    expect((await running)[0]).toHaveLength(384);
    await closed;
    expect(f.batcher!.idle).toBe(true);
  });

  it('serves concurrent lookups through the tier, and the config accepts it for onnx only', async () => {
    expect(() =>
      parseConfig({ tiers: [{ type: 'semantic', embeddings: 'lexical', batching: { maxWaitMs: 1 } }] }),
    ).toThrow(/batching: applies to onnx models only/);
    expect(() =>
      parseConfig({ tiers: [{ type: 'semantic', embeddings: 'onnx', batching: { maxWaitMs: 100 } }] }),
    ).toThrow(/maxWaitMs/);
    for (const batching of [{ maxWaitMs: 1 }, false] as const) {
      const cache = await createCache({
        tiers: [{ type: 'semantic', embeddings: 'onnx', modelPath: MINILM, path: ':memory:', batching }],
      });
      const questions = ['How do I reset my password?', 'What is the capital of France?', '如何安装 Redis？'];
      await cache.update(questions[0]!, LLM, [{ text: 'Settings > Security.' }]);
      await cache.update(questions[1]!, LLM, [{ text: 'Paris.' }]);
      const answers = await Promise.all(
        [
          'how can I reset my password?',
          "What's the capital of France?",
          'How do I reset my password?',
          'What is the capital city of France?',
          'What is the boiling point of water?',
        ].map((q) => cache.lookup(q, LLM)),
      );
      expect(answers.map((a) => a?.[0]?.text ?? null)).toEqual([
        'Settings > Security.',
        'Paris.',
        'Settings > Security.',
        'Paris.',
        null,
      ]);
      await cache.close();
    }
  });
});
