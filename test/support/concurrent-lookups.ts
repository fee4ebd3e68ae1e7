import { expect } from 'vitest';
import type { StrataCache } from '../../src/langchain/cache.js';

/**
 * 20 entries, then 200 lookups at once over 40 prompts (half of them stored): every stored one
 * hits, every other misses, and the tier counts no error and no timeout. What a networked tier
 * must take from a burst larger than its pool.
 */
export async function expectBurstServed(cache: StrataCache): Promise<void> {
  for (let i = 0; i < 20; i++) await cache.update(`q${i}`, 'llm', [{ text: `a${i}` }]);
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => cache.lookup(`q${i % 40}`, 'llm')));
  expect(results.filter((r) => r !== null)).toHaveLength(100);
  expect((await cache.stats()).tiers[0]).toMatchObject({ errors: 0, timeouts: 0 });
}
