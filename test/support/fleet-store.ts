/**
 * What every tier's fleet counter store must do (core/tier.ts CounterStore), checked against a
 * real backend: one row per process replaced at each report, rows older than FLEET_RETENTION_MS
 * dropped by the writers, reads filtered by age, and a row too long to be a snapshot read as
 * nothing (skipped and counted by the reader, never parsed).
 */
import { expect } from 'vitest';
import { parseRows } from '../../src/core/fleet.js';
import { type CounterStore, FLEET_RETENTION_MS, FLEET_ROW_MAX_CHARS } from '../../src/core/tier.js';

/** `plant` writes a row as another process (or an attacker) could, bypassing the store. */
export async function expectFleetStore(
  store: CounterStore,
  plant: (process: string, reportedAt: number, snapshot: string) => Promise<void>,
): Promise<void> {
  const t = Date.now();
  const snapshot = (name: string, at: number) =>
    JSON.stringify({
      v: 1,
      process: name,
      host: 'h',
      pid: 1,
      startedAt: t,
      at,
      cache: {},
      tiers: [],
      savings: [],
    });
  await store.publish('a', snapshot('a', t - 1_000), t - 1_000);
  await store.publish('b', snapshot('b', t), t);
  await store.publish('a', snapshot('a', t + 10), t + 10);
  const names = async (since: number) =>
    parseRows(await store.read(since))
      .snapshots.map((s) => `${s.process}@${s.at - t}`)
      .sort();
  // Replaced, not added: one row per process.
  expect(await names(0)).toEqual(['a@10', 'b@0']);
  // Reads are filtered by age.
  expect(await names(t + 1)).toEqual(['a@10']);
  // A row older than the retention goes at the next report.
  await plant('gone', t - FLEET_RETENTION_MS - 1, snapshot('gone', t - FLEET_RETENTION_MS - 1));
  expect(await names(0)).toContain(`gone@${-FLEET_RETENTION_MS - 1}`);
  await store.publish('b', snapshot('b', t + 20), t + 20);
  expect(await names(0)).toEqual(['a@10', 'b@20']);
  // Crafted rows: too long, not JSON, a newer version. Skipped and counted; the others read.
  await plant('huge', t, `{"v":1,"pad":"${'x'.repeat(FLEET_ROW_MAX_CHARS)}"}`);
  await plant('damaged', t, '{"v":1,"process":');
  await plant('newer', t, JSON.stringify({ v: 2, process: 'newer', cache: {}, tiers: [] }));
  const read = await store.read(0);
  expect(read.every((row) => row.length <= FLEET_ROW_MAX_CHARS)).toBe(true);
  const { snapshots, skipped } = parseRows(read);
  expect(snapshots.map((s) => s.process).sort()).toEqual(['a', 'b']);
  expect(skipped).toBe(3);
}
