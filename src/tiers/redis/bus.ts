/** The invalidation bus over Redis pub/sub (core/bus.ts carries its messages). */
import type { BusTransport } from '../../core/bus.js';
import { type Commands, closeClient } from './client.js';

/**
 * Pub/sub on a connection of its own (a subscribed connection can run nothing else). After the
 * subscriber reconnects, messages sent meanwhile are lost, so the manager flushes local tiers.
 */
export function createBusTransport(
  client: Commands,
  channel: string,
  onError: (error: Error) => void,
): BusTransport {
  let subscriber: Commands | undefined;
  let closed = false;
  return {
    publish: async (message) => {
      await client.publish(channel, message);
    },
    subscribe: async (onMessage, onReconnect) => {
      subscriber = client.duplicate();
      let connectedOnce = false;
      subscriber.on('error', (error: Error) => onError(error));
      subscriber.on('ready', () => {
        if (connectedOnce) onReconnect();
        connectedOnce = true;
      });
      await subscriber.connect();
      if (closed) {
        await closeClient(subscriber);
        return;
      }
      await subscriber.subscribe(channel, onMessage);
    },
    close: async () => {
      closed = true;
      if (subscriber) await closeClient(subscriber);
    },
  };
}
