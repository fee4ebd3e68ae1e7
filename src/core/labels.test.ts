/**
 * markBad and markGood, the labels a similarity tier learns from: each reaches every tier that
 * takes it, with the key as that tier was told it when it stored the entry.
 */
import { describe, expect, it, vi } from 'vitest';
import { LabelledTier } from '../../test/support/labelled-tier.js';
import { MemoryTier } from '../tiers/memory/index.js';
import { DEFAULT_BREAKER } from './breaker.js';
import { ManualClock } from './clock.js';
import { DeferredTier } from './deferred-tier.js';
import { keyForSealedTier } from './encryption/at-rest.js';
import { TenantKeys } from './encryption/tenant.js';
import { deriveKey } from './key.js';
import { Manager } from './manager.js';
import type { Tier } from './tier.js';

const key = deriveKey('ns', '{"model":"m"}', 'What is the capital of France?');

function manager(tiers: Tier[], sealing: { sealed?: boolean; encrypted?: boolean } = {}) {
  return new Manager(
    tiers.map((tier) => ({
      tier,
      options: { timeoutMs: 1_000, breaker: DEFAULT_BREAKER, ...sealing },
    })),
    { clock: new ManualClock(), coalesceWaitMs: 0, storePrompt: true, logger: { warn: () => {} } },
  );
}

describe('labels through the manager', () => {
  it('markGood and markBad reach the tiers that take them, with the key; others count for nothing', async () => {
    const labelled = new LabelledTier();
    const plain = new MemoryTier({ name: 'plain', maxEntries: 10, maxBytes: 1e6, clock: new ManualClock() });
    const m = manager([plain, labelled]);
    expect(await m.markGood(key)).toBe(1);
    expect(await m.markBad(key)).toBe(1);
    expect(labelled.labels.map((l) => l.label)).toEqual(['good', 'bad']);
    expect(labelled.labels.every((l) => l.key === key)).toBe(true);
    expect(await manager([plain]).markGood(key)).toBe(0);
  });

  it('under encryption a sealed tier is told the key it stored under: the llm string as its digest', async () => {
    const labelled = new LabelledTier();
    const m = manager([labelled], { sealed: true, encrypted: true });
    expect(await m.markGood(key)).toBe(1);
    expect(await m.markBad(key)).toBe(1);
    const told = keyForSealedTier(key);
    expect(told.llmString).not.toBe(key.llmString);
    for (const l of labelled.labels) expect(l.key).toEqual(told);
  });

  it("with a call's own sealer (the gateway's per-tenant keys) a sealed tier is told the sealed key too", async () => {
    const labelled = new LabelledTier();
    const m = manager([labelled], { sealed: true });
    const sealer = new TenantKeys(undefined).sealerFor(['authorization:bearer sk-tenant']);
    await m.markGood(key);
    await m.markGood(key, { sealer });
    await m.markBad(key, { sealer });
    expect(labelled.labels.map((l) => l.key.llmString)).toEqual([
      key.llmString,
      keyForSealedTier(key).llmString,
      keyForSealedTier(key).llmString,
    ]);
  });

  it('a tier that throws on a label is a failure of that tier, never of the call', async () => {
    const labelled = new LabelledTier();
    labelled.markGood = () => {
      throw new Error('store down');
    };
    expect(await manager([labelled]).markGood(key)).toBe(0);
  });

  it('a deferred tier takes markGood once the real tier opens', async () => {
    const labelled = new LabelledTier('store');
    const deferred = new DeferredTier({
      name: 'store',
      type: 'memory',
      retryMs: 10,
      maxRetryMs: 40,
      open: async () => labelled,
    });
    await vi.waitFor(() => expect(deferred.markGood).toBeDefined());
    expect(await manager([deferred]).markGood(key)).toBe(1);
    expect(labelled.labels).toEqual([{ label: 'good', key }]);
    await deferred.close();
  });
});
