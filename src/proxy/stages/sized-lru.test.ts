import { describe, expect, it } from 'vitest';
import { SizedLru } from './sized-lru.js';

describe('SizedLru', () => {
  it('keeps within its size and entry bounds, oldest out first, and counts a replaced entry once', () => {
    const lru = new SizedLru<string>(10, 3);
    lru.set('a', 'A', 4);
    lru.set('b', 'B', 4);
    lru.set('a', 'A2', 4); // replaced: 8 in all, not 12
    expect([lru.get('a'), lru.get('b'), lru.size]).toEqual(['A2', 'B', 2]);
    lru.set('c', 'C', 4); // 12 > 10: the oldest (b, as a was re-inserted) goes
    expect([lru.get('b'), lru.get('a'), lru.get('c')]).toEqual([undefined, 'A2', 'C']);
    lru.set('d', 'D', 1);
    lru.set('e', 'E', 1); // four entries > 3: the oldest goes
    expect(lru.size).toBe(3);
    expect(lru.get('a')).toBeUndefined();
    lru.set('huge', 'H', 11); // larger than the bound alone: not kept, nothing evicted for it
    expect([lru.get('huge'), lru.size]).toEqual([undefined, 3]);
    lru.delete('c');
    lru.set('f', 'F', 8); // fits once c's 4 are given back: 1 + 1 + 8 = 10
    expect([lru.get('d'), lru.get('e'), lru.get('f')]).toEqual(['D', 'E', 'F']);
  });

  it('keeps an entry used while it is in the older half', () => {
    const lru = new SizedLru<number>(Number.POSITIVE_INFINITY, 4);
    for (let i = 0; i < 4; i++) lru.set(`k${i}`, i, 1);
    expect(lru.get('k0')).toBe(0); // oldest: moved to the young end
    lru.set('k4', 4, 1); // evicts k1 now, not k0
    expect(lru.get('k0')).toBe(0);
    expect(lru.get('k1')).toBeUndefined();
  });
});
