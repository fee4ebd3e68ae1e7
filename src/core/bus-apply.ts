/**
 * An instance on the invalidation bus (core/bus.ts carries the messages through a shared tier):
 * it announces what it changed, and on another instance's message its process-local tiers
 * (memory) drop what changed in the shared tiers, so they never serve an answer another instance
 * replaced, deleted or invalidated.
 */
import { Bus, type BusMessage } from './bus.js';
import type { GuardedTier } from './guarded-tier.js';

export class InstanceBus {
  private readonly bus: Bus;

  constructor(
    /** The shared tier whose transport carries the bus. */
    private readonly via: GuardedTier,
    private readonly tiers: readonly GuardedTier[],
    private readonly closed: () => boolean,
  ) {
    this.bus = new Bus(via.tier.bus!);
  }

  /** Joins the bus; `onSet` hears of every answer another instance stored. Never blocks on a backend that is down. */
  start(onSet: (hash: string) => void): void {
    this.bus
      .subscribe(
        (msg) => {
          applyBusMessage(msg, this.tiers);
          if (msg.op === 'set') onSet(msg.hash);
        },
        () => flushLocalTiers(this.tiers),
      )
      .catch((error: unknown) => this.via.failed('subscribe', error));
  }

  announce(msg: BusMessage): void {
    if (this.closed()) return;
    this.bus.publish(msg).catch((error: unknown) => this.via.failed('publish', error));
  }
}

function applyBusMessage(msg: BusMessage, tiers: readonly GuardedTier[]): void {
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
function flushLocalTiers(tiers: readonly GuardedTier[]): void {
  for (const m of tiers) if (m.tier.local) m.background('clear', (t) => t.clear());
}
