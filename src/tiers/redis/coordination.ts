/**
 * What instances sharing a Redis coordinate through it besides entries: distributed-coalescing
 * leases (SET NX PX, released by compare-and-delete) and every process's fleet counters.
 */
import { randomUUID } from 'node:crypto';
import type { CacheKey } from '../../core/key.js';
import { type CounterStore, FLEET_RETENTION_MS, type Lease } from '../../core/tier.js';
import type { Commands } from './client.js';
import type { RedisKeys } from './keys.js';

/** Deletes a lease only if we still hold it (compare-and-delete). */
const LEASE_RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** `ready()` waits for the first connection (bounded by the manager's timeout). */
export function createLease(
  client: Commands,
  keys: RedisKeys,
  ready: () => Promise<void> | undefined,
): Lease {
  const held = new Map<string, string>();
  return {
    acquire: async (key: CacheKey, ttlMs: number) => {
      await ready();
      const token = randomUUID();
      const ok = await client.set(keys.lease(key), token, { NX: true, PX: Math.max(1, Math.round(ttlMs)) });
      if (ok === null) return false;
      held.set(key.hash, token);
      return true;
    },
    release: async (key: CacheKey) => {
      const token = held.get(key.hash);
      if (token === undefined) return;
      held.delete(key.hash);
      await client.eval(LEASE_RELEASE, { keys: [keys.lease(key)], arguments: [token] });
    },
  };
}

/**
 * Replaces one process's fleet counters (field = process id, value = `<reportedAt>|<snapshot>`),
 * drops fields older than the cutoff and keeps the hash alive for the retention period.
 */
const FLEET_PUBLISH = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. '|' .. ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local at = tonumber(string.match(all[i + 1], '^(%d+)|'))
  if at == nil or at < tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

export function createCounterStore(
  client: Commands,
  keys: RedisKeys,
  ready: () => Promise<void> | undefined,
): CounterStore {
  return {
    publish: async (process, snapshot, at) => {
      await ready();
      await client.eval(FLEET_PUBLISH, {
        keys: [keys.fleet],
        arguments: [
          process,
          snapshot,
          String(at),
          String(at - FLEET_RETENTION_MS),
          String(FLEET_RETENTION_MS),
        ],
      });
    },
    read: async (since) => {
      await ready();
      return (await client.hVals(keys.fleet)).flatMap((value) => {
        const bar = value.indexOf('|');
        return bar > 0 && Number(value.slice(0, bar)) >= since ? [value.slice(bar + 1)] : [];
      });
    },
  };
}
