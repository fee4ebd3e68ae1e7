/** StrataCache.markGood / markBad: the view's key for the prompt reaches the tier that learns from labels. */
import { describe, expect, it } from 'vitest';
import { LabelledTier } from '../../test/support/labelled-tier.js';
import { DEFAULT_BREAKER } from '../core/breaker.js';
import { ManualClock } from '../core/clock.js';
import { Manager } from '../core/manager.js';
import { createCache } from './create.js';

describe('StrataCache labels', () => {
  it("markGood and markBad pass the view's key (namespace, llm string, prompt) to the tier", async () => {
    const tier = new LabelledTier();
    const strata = new Manager([{ tier, options: { timeoutMs: 1_000, breaker: DEFAULT_BREAKER } }], {
      clock: new ManualClock(),
      coalesceWaitMs: 0,
      storePrompt: true,
      logger: { warn: () => {} },
    });
    const cache = (await createCache(strata)).withNamespace('support');
    expect(await cache.markGood('How do I reset my password?', 'llm-a')).toBe(1);
    expect(await cache.markBad('How do I reset my password?', 'llm-a')).toBe(1);
    const expected = cache.key('How do I reset my password?', 'llm-a');
    expect(tier.labels).toEqual([
      { label: 'good', key: expect.objectContaining({ hash: expected.hash, namespace: 'support' }) },
      { label: 'bad', key: expect.objectContaining({ hash: expected.hash, namespace: 'support' }) },
    ]);
    expect(() => cache.markGood('p', 5 as never)).toThrow(/markGood\.llmKey: must be a string/);
    await strata.close();
  });
});
