/**
 * A semantic tier under `maxErrorRate` behind `withCache`: the fresh answer of a real miss labels
 * the similar entry it was compared with (the default judge, no extra model call), and once the
 * tier has evidence, a candidate held back to explore goes to the model and is counted.
 */

import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { BaseMessage } from '@langchain/core/messages';
import { AIMessage, HumanMessage, SystemMessage } from '@langchain/core/messages';
import type { ChatResult } from '@langchain/core/outputs';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { PARAPHRASES } from '../../test/support/bound.js';
import type { NamespaceBound } from '../core/tier.js';
import { createCache } from './create.js';
import { withCache } from './with-cache.js';

/** Answers every question about changing an email the same way (as a deterministic model would). */
class SupportBot extends BaseChatModel {
  calls = 0;
  _llmType(): string {
    return 'support-bot';
  }
  override _identifyingParams(): Record<string, unknown> {
    return { model: 'support-bot-1' };
  }
  async _generate(_messages: BaseMessage[]): Promise<ChatResult> {
    this.calls++;
    const text =
      'Open Settings, choose Email, type the new address and confirm it with the link we send to it.';
    return { generations: [{ text, message: new AIMessage(text) }] };
  }
}

const cache = await createCache(
  {
    tiers: [
      { type: 'memory' },
      {
        type: 'semantic',
        embeddings: 'lexical',
        path: ':memory:',
        maxErrorRate: 0.5,
        explorationBudget: 0.5,
      },
    ],
  },
  { logger: { warn: () => {} } },
);
afterAll(() => cache.close());
afterEach(() => vi.restoreAllMocks());

const bot = new SupportBot({});
const model = withCache(bot, cache);
const SYSTEM = new SystemMessage('You are the support assistant of the Acme account portal. Be brief.');
const ask = (question: string) => model.invoke([SYSTEM, new HumanMessage(question)]);

async function bound(): Promise<NamespaceBound> {
  const semantic = (await cache.stats()).tiers.find((t) => t.name === 'semantic')!;
  return Object.values(semantic.store!.bound!)[0]!;
}

describe('withCache over a semantic tier with an error bound', () => {
  it('labels from real misses, then explores a candidate within the budget, then serves', async () => {
    await ask('How do I change the email on my account?');
    expect(bot.calls).toBe(1);
    // Ten paraphrases: each a miss (no evidence yet) whose fresh answer labels its neighbour.
    for (const q of PARAPHRASES) await ask(q);
    await vi.waitFor(async () => expect((await bound()).labels.free).toBe(PARAPHRASES.length));
    expect(bot.calls).toBe(11);
    expect((await bound()).errorRate).toBe(0);

    // The tier would answer now; the coin says explore: the model is asked, the call counted.
    vi.spyOn(Math, 'random').mockReturnValue(0);
    await ask('how do I change the email on my account');
    expect(bot.calls).toBe(12);
    await vi.waitFor(async () => expect((await bound()).labels.exploration).toBe(1));
    expect((await bound()).explorations).toBe(1);

    // And when it does not explore, the similar question is answered from the cache.
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const hit = await ask('HOW DO I CHANGE THE EMAIL ON MY ACCOUNT?');
    expect(bot.calls).toBe(12);
    expect(hit.response_metadata.strata).toMatchObject({ tier: 'semantic' });
    expect((await bound()).hits).toBe(1);

    // The application reports on that answer by its id, once.
    const id = (hit.response_metadata.strata as { responseId: string }).responseId;
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await cache.feedback(id, 'right')).toBe(1);
    expect(await cache.feedback(id, 'right')).toBe(0);
    expect((await bound()).labels.feedback).toBe(1);
    expect(await cache.feedback('A'.repeat(22), 'wrong')).toBe(0);
    await expect(cache.feedback(id, 'maybe' as 'right')).rejects.toThrow(/verdict "right" or "wrong"/);
    // An exact hit carries no id: it is the answer to its own question.
    const exact = await ask('How do I change the email on my account?');
    expect(exact.response_metadata.strata).toMatchObject({ hit: true, tier: 'memory' });
    expect((exact.response_metadata.strata as { responseId?: string }).responseId).toBeUndefined();
  });
});
