/** What a finished lookup leaves behind: its latency, the hit or miss counted, the event emitted. */
import type { EventEmitter } from 'node:events';
import { tokenUsage } from './entry.js';
import type { CacheEvents, Hit } from './events.js';
import type { CacheKey } from './key.js';
import type { CacheCounters } from './stats.js';

export function recordLookup(
  events: EventEmitter<CacheEvents>,
  totals: CacheCounters,
  key: CacheKey,
  hit: Hit | undefined,
  latencyMs: number,
): void {
  totals.lookupLatency.record(latencyMs);
  if (hit) {
    totals.hits++;
    // Building the event costs a usage scan of the answer: only when someone listens.
    if (events.listenerCount('hit') > 0) {
      const { tier, coalesced, similarity, matchedPrompt } = hit;
      const usage = tokenUsage(hit.entry.gens);
      events.emit('hit', {
        key,
        tier,
        latencyMs,
        coalesced,
        ...(matchedPrompt === undefined ? {} : { similarity, matchedPrompt }),
        ...(usage ? { usage } : {}),
      });
    }
  } else {
    totals.misses++;
    if (events.listenerCount('miss') > 0) events.emit('miss', { key, latencyMs });
  }
}
