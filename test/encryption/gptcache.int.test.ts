/**
 * GPTCache under a caller's own keys (the engine's per-call sealer, as the gateway's per-tenant
 * keys use it; `encryption` in the config refuses a gptcache tier): the sealed payload GPTCache
 * hands back is opened by the manager, never served as another client's text answer.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Keyring } from '../../src/core/encryption/keyring.js';
import { deriveKey } from '../../src/core/key.js';
import { createStrata } from '../../src/engine/create.js';
import { service } from '../support/services.js';

const url = service('gptcache').STRATA_TEST_GPTCACHE_URL!;
const strata = await createStrata(
  { namespace: 'enc-gptcache', coalesceWaitMs: 0, tiers: [{ type: 'gptcache', url }] },
  { logger: { warn: () => {} } },
);
afterAll(() => strata.close());

const keyring = () => new Keyring(new Map([['t', randomBytes(32)]]), 't');
const LLM = 'model:"sim-1",temperature:0';

describe('gptcache under a per-call sealer', () => {
  it('answers with the sealer, misses without it or with another, never serves the ciphertext', async () => {
    const own = keyring();
    const key = deriveKey('enc-gptcache', LLM, `sealed question ${randomBytes(8).toString('hex')}`);
    await strata.update(key, [{ text: 'the sealed answer' }], { sealer: own });
    expect((await strata.lookup(key, { sealer: own }))?.entry.gens[0]?.text).toBe('the sealed answer');
    expect(await strata.lookup(key, { sealer: keyring() })).toBeUndefined();
    expect(await strata.lookup(key)).toBeUndefined();
    expect((await strata.stats()).tiers[0]!.corrupt).toBe(2);
  });
});
