import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Keyring, type Sealer } from './keyring.js';
import { OpenedPayloads } from './opened.js';

/** A sealer that counts the payloads it is asked to open. */
function counting(inner: Sealer): Sealer & { opens: number } {
  const s = {
    opens: 0,
    keyId: inner.keyId,
    seal: (plain: string, aad: string) => inner.seal(plain, aad),
    open: (sealed: string, aad: string) => {
      s.opens++;
      return inner.open(sealed, aad);
    },
  };
  return s;
}

const ring = () => new Keyring(new Map([['k', randomBytes(32)]]), 'k');

describe('OpenedPayloads', () => {
  it('opens the same bytes for the same row and sealer once, and gives the same string back', () => {
    const sealer = counting(ring());
    const sealed = sealer.seal('plain text', 'aad');
    const cache = new OpenedPayloads();
    const first = cache.open(sealed, 'ns', 'h1', sealer, 'aad');
    expect(first).toBe('plain text');
    // A fresh copy of the same bytes, as a network tier returns them.
    const again = cache.open(`${sealed} `.trimEnd(), 'ns', 'h1', sealer, 'aad');
    expect(again).toBe(first);
    expect(sealer.opens).toBe(1);
  });

  it('opens in full for other bytes, another sealer, another namespace, and never keeps a failure', () => {
    const keys = ring();
    const sealer = counting(keys);
    const sealed = sealer.seal('plain text', 'aad');
    const cache = new OpenedPayloads();
    cache.open(sealed, 'ns', 'h1', sealer, 'aad');
    const flipped = sealed.slice(0, -3) + (sealed.at(-3) === 'A' ? 'B' : 'A') + sealed.slice(-2);
    expect(cache.open(flipped, 'ns', 'h1', sealer, 'aad')).toBeUndefined();
    expect(cache.open(flipped, 'ns', 'h1', sealer, 'aad')).toBeUndefined();
    expect(sealer.opens).toBe(3);
    // Another sealer object (another tenant's keys), even with the same bytes: opened itself.
    const other = counting(ring());
    expect(cache.open(sealed, 'ns', 'h1', other, 'aad')).toBeUndefined();
    expect(other.opens).toBe(1);
    // Another namespace: the associated data differs, so it is opened (and fails here).
    expect(cache.open(sealed, 'other', 'h1', sealer, 'other aad')).toBeUndefined();
    // The right one still answers, from the cache.
    expect(cache.open(sealed, 'ns', 'h1', sealer, 'aad')).toBe('plain text');
  });

  it('keeps at most its byte budget, and no payload larger than its limit', () => {
    const sealer = counting(ring());
    const cache = new OpenedPayloads(300, 500);
    const big = sealer.seal('x'.repeat(600), 'aad');
    cache.open(big, 'ns', 'big', sealer, 'aad');
    cache.open(big, 'ns', 'big', sealer, 'aad');
    expect(sealer.opens).toBe(2);
    const small = Array.from({ length: 10 }, (_, i) => sealer.seal(`entry ${i}`, 'aad'));
    for (const [i, s] of small.entries()) cache.open(s, 'ns', `h${i}`, sealer, 'aad');
    sealer.opens = 0;
    // The oldest were dropped to stay within 300 bytes; the newest are still kept.
    cache.open(small[9]!, 'ns', 'h9', sealer, 'aad');
    expect(sealer.opens).toBe(0);
    cache.open(small[0]!, 'ns', 'h0', sealer, 'aad');
    expect(sealer.opens).toBe(1);
  });
});
