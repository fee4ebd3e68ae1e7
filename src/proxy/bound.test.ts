/**
 * A semantic tier under `maxErrorRate` behind the gateway: the upstream's answer to a real miss
 * labels the similar entry it was compared with; once the tier has evidence, a candidate held back
 * to explore goes upstream and is counted; a client's report by response id is a feedback label.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { PARAPHRASES } from '../../test/support/bound.js';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import type { NamespaceBound } from '../core/tier.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({
    tiers: [
      { type: 'memory' },
      {
        type: 'semantic',
        embeddings: 'lexical',
        path: ':memory:',
        maxErrorRate: 0.5,
        explorationBudget: 0.5,
        // The fake upstream names the call in every answer: the test's judge takes them as the same answer.
        judge: () => 'right',
      },
    ],
  });
});
afterAll(() => gw?.close());
afterEach(() => vi.restoreAllMocks());

function ask(question: string) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bound-test' },
    body: JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You answer questions about the Acme account portal.' },
        { role: 'user', content: question },
      ],
    }),
  });
}

async function bound(): Promise<NamespaceBound> {
  const semantic = (await gw.proxy.strata.stats({ store: true })).tiers.find((t) => t.name === 'semantic')!;
  return Object.values(semantic.store!.bound!)[0]!;
}

describe('gateway over a semantic tier with an error bound', () => {
  it('labels from real misses, explores within the budget, serves, and takes a client’s word', async () => {
    expect((await ask('How do I change the email on my account?')).headers.get('x-strata-cache')).toBe(
      'miss',
    );
    for (const q of PARAPHRASES) expect((await ask(q)).headers.get('x-strata-cache')).toBe('miss');
    await vi.waitFor(async () => expect((await bound()).labels.free).toBe(PARAPHRASES.length));
    expect(gw.fake.count()).toBe(11);

    vi.spyOn(Math, 'random').mockReturnValue(0);
    const explored = await ask('how do I change the email on my account');
    expect(explored.headers.get('x-strata-cache')).toBe('miss');
    expect(gw.fake.count()).toBe(12);
    await vi.waitFor(async () => expect((await bound()).labels.exploration).toBe(1));
    expect((await bound()).explorations).toBe(1);

    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const hit = await ask('HOW DO I CHANGE THE EMAIL ON MY ACCOUNT?');
    expect(hit.headers.get('x-strata-tier')).toBe('semantic');
    expect(gw.fake.count()).toBe(12);
    const id = hit.headers.get('x-strata-response-id')!;

    const report = await fetch(`${gw.url}/strata/feedback`, {
      method: 'POST',
      headers: { 'x-strata-feedback': `right ${id}`, authorization: 'Bearer sk-bound-test' },
    });
    expect(report.headers.get('x-strata-feedback')).toBe('applied');
    expect((await bound()).labels.feedback).toBe(1);
  });
});
