/** createCache over a config or over an engine already open: one engine, the views on top. */
import { afterEach, describe, expect, it } from 'vitest';
import { deriveKey } from '../core/key.js';
import { createStrata } from '../engine/create.js';
import type { Strata } from '../engine/strata.js';
import { createCache } from './create.js';

const LLM = 'model=test-model,endpoint=https://llm.example';
let strata: Strata | undefined;
afterEach(async () => {
  await strata?.close();
  strata = undefined;
});

describe('createCache', () => {
  it('over an engine: the view shares its entries, keys by its namespace and answers its stores', async () => {
    strata = await createStrata({ namespace: 'shared', tiers: [{ type: 'memory' }] });
    const cache = await createCache(strata);
    expect(cache.strata).toBe(strata);
    expect(cache.namespace).toBe('shared');
    await strata.update(deriveKey('shared', LLM, 'engine wrote'), [{ text: 'from the engine' }]);
    expect((await cache.lookup('engine wrote', LLM))?.[0]?.text).toBe('from the engine');
    await cache.update('view wrote', LLM, [{ text: 'from the view' }]);
    const hit = await strata.lookup(cache.key('view wrote', LLM));
    expect(hit?.entry.gens[0]?.text).toBe('from the view');
    // The engine belongs to whoever opened it: a view's close() leaves it (and other views) working.
    const other = await createCache(strata);
    await cache.close();
    expect((await other.lookup('view wrote', LLM))?.[0]?.text).toBe('from the view');
  });

  it('over a config: opens an engine of its own, which close() closes', async () => {
    const cache = await createCache({ tiers: [{ type: 'memory' }] });
    strata = cache.strata;
    expect(cache.strata.tierNames).toEqual(['memory']);
    await cache.close();
    await expect(cache.strata.clear()).rejects.toThrow(/closed/);
  });
});
