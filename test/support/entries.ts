/** A stored entry for driver-level tests that bypass the manager. */
import type { Clock } from '../../src/core/clock.js';
import { ENTRY_VERSION, encodeEntry, type StoredEntry } from '../../src/core/entry.js';

export function storedText(text: string, clock: Clock, tags: string[] = []): StoredEntry {
  return encodeEntry({
    v: ENTRY_VERSION,
    k: 'x',
    ns: 'n',
    llm: 'l',
    gens: [{ text }],
    createdAt: clock.now(),
    expiresAt: null,
    tags,
  });
}
