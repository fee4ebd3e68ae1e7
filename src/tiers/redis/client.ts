/**
 * The node-redis client for the Redis tier: standalone, Sentinel or Cluster, and the few
 * commands the tier uses (as all three expose them).
 *
 * The client runs without an offline queue: while disconnected, commands fail at once and the
 * manager turns them into misses, instead of piling up until a reconnect.
 */
import { createClient, createCluster, createSentinel, type RedisClientOptions } from '@redis/client';
import type { RedisTierOptions } from './index.js';

/** The few commands the tier uses, as node-redis's client, cluster and sentinel all expose them. */
export interface Commands {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, options?: object): Promise<string | null>;
  del(key: string | string[]): Promise<number>;
  unlink(key: string | string[]): Promise<number>;
  sMembers(key: string): Promise<string[]>;
  hVals(key: string): Promise<string[]>;
  strLen(key: string): Promise<number>;
  pTTL(key: string): Promise<number>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  publish(channel: string, message: string): Promise<number>;
  ping(): Promise<string>;
  connect(): Promise<unknown>;
  close?(): Promise<void>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
  duplicate(): Commands;
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]>;
  isReady: boolean;
  masters?: unknown[];
  nodeClient?(node: unknown): Promise<Commands>;
}

export function createRedisClient(o: RedisTierOptions): Commands {
  const socket = {
    connectTimeout: o.connectTimeoutMs,
    // Keep trying, backing off to once a second, so a restarted server is used again by itself.
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1_000),
    ...(o.tls ? { tls: true as const } : {}),
  };
  const auth = {
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: o.password } : {}),
  };
  const clientOptions = {
    socket,
    disableOfflineQueue: true,
    // The manager times every call out itself. node-redis's own per-command timeout (5 s by
    // default) arms an AbortSignal timer per command, which costs more than the GET; commands
    // left waiting on a hung server are bounded by the breaker, which stops sending them.
    commandOptions: { timeout: 0 },
    commandsQueueMaxLength: 10_000,
    ...auth,
  } as RedisClientOptions;
  switch (o.mode) {
    case 'standalone':
      return createClient({ ...clientOptions, url: o.url }) as unknown as Commands;
    case 'cluster':
      return createCluster({
        rootNodes: (o.nodes ?? []).map((n) => ({ url: toUrl(n, o.tls) })),
        defaults: clientOptions,
        ...(o.nodeAddressMap
          ? {
              nodeAddressMap: Object.fromEntries(
                Object.entries(o.nodeAddressMap).map(([announced, reach]) => [
                  announced,
                  parseHostPort(reach),
                ]),
              ),
            }
          : {}),
      }) as unknown as Commands;
    case 'sentinel':
      return createSentinel({
        name: o.sentinelName!,
        sentinelRootNodes: (o.sentinels ?? []).map(parseHostPort),
        nodeClientOptions: clientOptions as never,
        sentinelClientOptions: { socket } as never,
        passthroughClientErrorEvents: true,
        scanInterval: 1_000,
      }) as unknown as Commands;
  }
}

/** A graceful close when connected; otherwise stop reconnecting at once. */
export async function closeClient(client: Commands): Promise<void> {
  try {
    if (!client.isReady) client.destroy?.();
    else if (client.close) await client.close();
    else if (client.quit) await client.quit();
  } catch {
    client.destroy?.();
  }
}

function parseHostPort(value: string): { host: string; port: number } {
  const [host, port] = value.split(':');
  return { host: host!, port: Number(port) };
}

function toUrl(node: string, tls?: boolean): string {
  return node.includes('://') ? node : `${tls ? 'rediss' : 'redis'}://${node}`;
}
