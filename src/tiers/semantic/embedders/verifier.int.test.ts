/**
 * The verifier stage: a candidate that passed the threshold and the guards is served only if a
 * second model agrees. Real models (fetched by scripts/models.sh), through createCache.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AIMessage } from '@langchain/core/messages';
import type { Generation } from '@langchain/core/outputs';
import { afterAll, describe, expect, it } from 'vitest';
import { onnxModel } from '../../../../test/support/services.js';
import type { StrataCache } from '../../../langchain/cache.js';
import { createCache } from '../../../langchain/create.js';
import { onnxEmbedder } from './onnx.js';
import { embedderVerifier } from './verifier.js';

const MINILM = onnxModel();
const E5 = onnxModel('multilingual-e5-small');
const LLM = 'gpt-test';
const answer = (text: string): Generation[] => [{ text, message: new AIMessage(text) } as Generation];

const caches: StrataCache[] = [];
afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
});

async function cache(verifier?: { threshold?: number }): Promise<StrataCache> {
  const c = await createCache({
    tiers: [
      {
        type: 'semantic',
        embeddings: 'onnx',
        modelPath: MINILM,
        // Low enough that all-MiniLM-L6-v2 alone takes "pause" for "cancel" (0.82).
        threshold: 0.8,
        path: ':memory:',
        ...(verifier ? { verifier: { modelPath: E5, ...verifier } } : {}),
      },
    ],
  });
  caches.push(c);
  return c;
}

const verifierRefusals = async (c: StrataCache) =>
  (await c.stats()).tiers.find((t) => t.name === 'semantic')!.store!.verifierRefusals;

describe('verifier: { modelPath, threshold } in config', () => {
  it('without a verifier, the first model alone serves a different question (the case it is for)', async () => {
    const c = await cache();
    await c.update('Can I cancel my subscription at any time?', LLM, answer('Yes, under Billing.'));
    expect(await c.lookup('Can I pause my subscription at any time?', LLM)).not.toBeNull();
  });

  it('refuses what the second model does not confirm, and counts it', async () => {
    const c = await cache({});
    await c.update('Can I cancel my subscription at any time?', LLM, answer('Yes, under Billing.'));
    expect(await c.lookup('Can I pause my subscription at any time?', LLM)).toBeNull();
    expect(await verifierRefusals(c)).toBe(1);
  });

  it('still serves paraphrases both models agree on', async () => {
    const c = await cache({});
    await c.update('How do I delete my account?', LLM, answer('Settings > Account > Delete.'));
    await c.update('What payment methods do you accept?', LLM, answer('Cards and SEPA.'));
    expect((await c.lookup('How can I remove my account?', LLM))?.[0]?.text).toBe(
      'Settings > Account > Delete.',
    );
    expect((await c.lookup('Which payment methods are accepted?', LLM))?.[0]?.text).toBe('Cards and SEPA.');
    expect(await verifierRefusals(c)).toBe(0);
  });

  it('a model that is not there is a config error naming the field, not a tier retried forever', async () => {
    const missing = join(tmpdir(), 'strata-no-such-model');
    await expect(
      createCache({ tiers: [{ type: 'semantic', path: ':memory:', verifier: { modelPath: missing } }] }),
    ).rejects.toThrow(
      /tiers\[0\]: cannot open semantic tier: verifier: no model\.onnx in .*strata-no-such-model.*models\.sh/,
    );
    await expect(
      createCache({
        tiers: [{ type: 'semantic', path: ':memory:', embeddings: 'onnx', modelPath: missing }],
      }),
    ).rejects.toThrow(/tiers\[0\]: cannot open semantic tier: embeddings: no model\.onnx/);
  });

  it('rejects a bad verifier config by field', async () => {
    await expect(
      createCache({
        tiers: [{ type: 'semantic', path: ':memory:', verifier: { threshold: 2 } as never }],
      }),
    ).rejects.toThrow(/verifier/);
  });
});

describe('embedderVerifier', () => {
  it('never vouches for text its model cannot see whole', async () => {
    // all-MiniLM-L6-v2 declines Chinese: as a verifier it must refuse, not guess.
    const verify = embedderVerifier(await onnxEmbedder({ modelPath: MINILM }), 0);
    expect(await verify('如何重置密码？', '如何重置密码？')).toBe(false);
    expect(await verify('How do I reset my password?', 'How do I reset my password?')).toBe(true);
  });
});
