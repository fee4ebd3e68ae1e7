/**
 * What instances sharing a Redis coordinate through it besides entries: distributed-coalescing
 * leases (SET NX PX, released by compare-and-delete) and every process's fleet counters.
 */
import { randomUUID } from 'node:crypto';
import type { CacheKey } from '../../core/key.js';
import { type CounterStore, FLEET_RETENTION_MS, type Lease } from '../../core/tier.js';
import type { Commands } from './client.js';
import type { RedisKeys } from './keys.js';

/**
 * Takes a free lease, or renews one this instance already holds: a claim whose reply the network
 * lost (a cut connection, a reply later than the timeout) still took the lease, and must not
 * later look like another instance's, or this instance's lookups would wait for an answer
 * nobody is computing until the lease runs out.
 */
const LEASE_ACQUIRE = `local holder = redis.call('GET', KEYS[1])
if holder == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;

/** Deletes a lease only if we still hold it (compare-and-delete). */
const LEASE_RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** `ready()` waits for the first connection (bounded by the manager's timeout). */
export function createLease(
  client: Commands,
  keys: RedisKeys,
  ready: () => Promise<void> | undefined,
): Lease {
  /** This instance's token: every lease it takes holds it. */
  const token = randomUUID();
  /**
   * Keys this instance may hold a lease on: added before the claim is sent, so a claim whose
   * reply never came is still released; dropped when Redis says another instance holds it.
   */
  const held = new Set<string>();
  return {
    acquire: async (key: CacheKey, ttlMs: number) => {
      await ready();
      held.add(key.hash);
      const took = await client.eval(LEASE_ACQUIRE, {
        keys: [keys.lease(key)],
        arguments: [token, String(Math.max(1, Math.round(ttlMs)))],
      });
      if (Number(took) === 1) return true;
      held.delete(key.hash);
      return false;
    },
    release: async (key: CacheKey) => {
      if (!held.delete(key.hash)) return;
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
