/**
 * The invalidation bus: how one instance tells the others that entries changed, so that their
 * process-local tiers (memory) stop serving what a shared tier no longer holds.
 *
 * A transport (the Redis tier's pub/sub) only moves messages. Everything else is here and in the
 * manager: tagging messages with the sender, ignoring our own, applying them to local tiers, and
 * flushing local tiers after a reconnect, since messages sent meanwhile are lost.
 */
import { randomUUID } from 'node:crypto';

export type BusMessage =
  | { op: 'set' | 'delete'; namespace: string; hash: string }
  | { op: 'clear'; namespace?: string }
  | { op: 'invalidateTag'; tag: string; namespace?: string };

export interface BusTransport {
  publish(message: string): Promise<void>;
  /** Delivers every message on the channel; `onReconnect` runs after each reconnection of the subscriber. */
  subscribe(onMessage: (message: string) => void, onReconnect: () => void): Promise<void>;
  close(): Promise<void>;
}

interface Envelope {
  from: string;
  msg: BusMessage;
}

export class Bus {
  /** Identifies this process's messages, so it does not act on its own. */
  readonly instanceId = randomUUID();

  constructor(private readonly transport: BusTransport) {}

  publish(msg: BusMessage): Promise<void> {
    return this.transport.publish(JSON.stringify({ from: this.instanceId, msg } satisfies Envelope));
  }

  subscribe(onMessage: (msg: BusMessage) => void, onReconnect: () => void): Promise<void> {
    return this.transport.subscribe((raw) => {
      let envelope: Envelope;
      try {
        envelope = JSON.parse(raw) as Envelope;
      } catch {
        return;
      }
      if (envelope.from !== this.instanceId && envelope.msg && typeof envelope.msg.op === 'string')
        onMessage(envelope.msg);
    }, onReconnect);
  }
}
