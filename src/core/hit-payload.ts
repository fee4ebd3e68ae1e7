/**
 * The payload a hit was read from: the entry's encoded bytes as its tier held them (opened). Equal
 * payloads are equal entries, down to the byte, so a caller may keep what it built from one hit's
 * answer (the gateway keeps the bytes it sent: proxy/stages/prepared.ts) and use it again for a
 * later hit of the same key whose payload is equal; a changed entry has another payload. Held
 * under a symbol, not enumerable: a hit's shape (what the library hands out, emits, compares and
 * serializes) is unchanged.
 */
import type { Hit } from './events.js';

const PAYLOAD = Symbol('strata.hit.payload');

type WithPayload = Hit & { [PAYLOAD]?: string };

export function withPayload(hit: Hit, payload: string): Hit {
  // Not enumerable: copies, comparisons and serializations of a hit never see it.
  Object.defineProperty(hit, PAYLOAD, { value: payload });
  return hit;
}

/** The payload `hit` was read from; undefined for a hit the engine did not read from a payload. */
export function payloadOf(hit: Hit): string | undefined {
  return (hit as WithPayload)[PAYLOAD];
}
