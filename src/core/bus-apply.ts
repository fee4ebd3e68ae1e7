/**
 * What an instance does with another instance's bus message (core/bus.ts carries them): its
 * process-local tiers (memory) drop what the message says changed in the shared tiers, so they
 * never serve an answer another instance replaced, deleted or invalidated.
 */
import type { BusMessage } from './bus.js';
import type { GuardedTier } from './guarded-tier.js';

export function applyBusMessage(msg: BusMessage, tiers: readonly GuardedTier[]): void {
  for (const m of tiers) {
    if (!m.tier.local) continue;
    switch (msg.op) {
      case 'set':
      case 'delete':
        m.background('delete', (t) =>
          t.delete({ namespace: msg.namespace, hash: msg.hash, llmString: '', prompt: '' }),
        );
        break;
      case 'clear':
        m.background('clear', (t) => t.clear(msg.namespace));
        break;
      case 'invalidateTag':
        m.background('invalidateTag', (t) => t.invalidateTag(msg.tag, msg.namespace));
        break;
    }
  }
}

/** After the bus reconnects, messages may have been missed: local tiers start over. */
export function flushLocalTiers(tiers: readonly GuardedTier[]): void {
  for (const m of tiers) if (m.tier.local) m.background('clear', (t) => t.clear());
}
