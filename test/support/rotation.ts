/**
 * Key rotation under load, for the rekey tests: entries written under key k1, then an
 * application on k1 + k2 (active k2) looking up, updating, deleting and invalidating them while
 * `rekey` moves the store to k2, then every tier checked on its own with k1 removed: every entry
 * that should exist is a hit with its exact answer, none that was removed comes back, and every
 * stored payload is sealed under k2.
 *
 * Each worker owns its keys (key i belongs to worker i % WORKERS) and the tags of its groups, so
 * what each key should hold is known exactly at every moment, though the workers and the rekey
 * run concurrently.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { StrataConfig } from '../../src/config/schema.js';
import { Keyring, sealedKeyId } from '../../src/core/encryption/keyring.js';
import { type CacheKey, deriveKey } from '../../src/core/key.js';
import { createStrata } from '../../src/engine/create.js';
import { type RekeyReport, rekey } from '../../src/engine/rekey.js';
import type { Strata } from '../../src/engine/strata.js';

type Tiers = StrataConfig['tiers'];

const LLM = 'model=rotation-test,endpoint=https://llm.example';
const WORKERS = 4;
const GROUPS = 5;
const quiet = { warn: () => {} };

export const ROTATION_ENV = {
  STRATA_TEST_ROTATION_K1: randomBytes(32).toString('base64'),
  STRATA_TEST_ROTATION_K2: randomBytes(32).toString('base64'),
};
const K1 = { id: 'k1', keyEnv: 'STRATA_TEST_ROTATION_K1' };
const K2 = { id: 'k2', keyEnv: 'STRATA_TEST_ROTATION_K2' };

function config(tiers: Tiers, keys: Array<typeof K1>, active: string): StrataConfig {
  return { namespace: 'rotation', coalesceWaitMs: 0, tiers, encryption: { keys, active } };
}

function open(tiers: Tiers, keys: Array<typeof K1>, active: string): Promise<Strata> {
  return createStrata(config(tiers, keys, active), { env: ROTATION_ENV, logger: quiet });
}

export interface RotationOutcome {
  report: RekeyReport;
  /** Application operations run while the rekey ran. */
  opsDuringRekey: number;
  /** Lookups that hit while the rekey ran, each checked against what the key should hold. */
  hitsDuringRekey: number;
}

/**
 * Runs the rotation over `tiers` (each a persistent tier with compare-and-set) with `entries`
 * keys, and checks the outcome tier by tier (`single(name)`: that tier alone, as a config).
 */
export async function rotateUnderLoad(
  tiers: Tiers,
  single: (name: string) => Tiers,
  entries = 400,
): Promise<RotationOutcome> {
  const keys: CacheKey[] = Array.from({ length: entries }, (_, i) =>
    deriveKey('rotation', LLM, `question ${i}: ${randomBytes(4).toString('hex')}`),
  );
  const groupOf = (i: number) => `w${i % WORKERS}-g${Math.floor(i / WORKERS) % GROUPS}`;
  /** What each key should answer now; undefined: nothing (deleted, invalidated). */
  const expected: Array<string | undefined> = [];
  let version = 0;
  const write = async (strata: Strata, i: number) => {
    const text = `answer ${i} v${++version}`;
    await strata.update(keys[i]!, [{ text }], { ttlMs: 3_600_000, tags: [groupOf(i)] });
    expected[i] = text;
  };

  // Before: the store as the old key wrote it.
  const before = await open(tiers, [K1], 'k1');
  for (let i = 0; i < entries; i++) await write(before, i);
  await before.close();

  // During: the application, rolled out with k2 active and k1 still listed, and the rekey.
  const app = await open(tiers, [K1, K2], 'k2');
  const rekeyer = await open(tiers, [K1, K2], 'k2');
  // A write the application's tier failed (a cache swallows it) would leave an older answer:
  // not the rekey's doing, and said apart from what it would be.
  const appErrors: string[] = [];
  app.events.on('error', (e) => appErrors.push(`${e.tier} ${e.op}: ${(e.error as Error).message}`));
  let rekeying = true;
  let ops = 0;
  let hits = 0;
  const wrong: string[] = [];
  const worker = async (w: number) => {
    const mine = keys.map((_, i) => i).filter((i) => i % WORKERS === w);
    let step = 0;
    // Until the rekey is done, and no further: what it did is checked as it left it.
    while (rekeying) {
      const i = mine[(step * 7 + w) % mine.length]!;
      const roll = (step * 31 + w * 17) % 20;
      step++;
      ops++;
      if (roll < 10) {
        const hit = await app.lookup(keys[i]!, { claim: false });
        const text = hit?.entry.gens[0]?.text;
        if (hit) hits++;
        if (hit && text !== expected[i]) wrong.push(`key ${i}: got ${text}, expected ${expected[i]}`);
        if (!hit && expected[i] !== undefined) wrong.push(`key ${i}: a miss, expected ${expected[i]}`);
      } else if (roll < 15) await write(app, i);
      else if (roll < 18) {
        await app.delete(keys[i]!);
        expected[i] = undefined;
      } else {
        const group = groupOf(i);
        await app.invalidateTag(group, 'rotation');
        for (const j of mine) if (groupOf(j) === group) expected[j] = undefined;
      }
      // Synchronous tiers (SQLite) interleave with the rekey at every await; now and then a
      // macrotask too, so that neither side starves the other.
      if (step % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const keyring = Keyring.fromConfig({ keys: [K1, K2], active: 'k2' }, ROTATION_ENV);
  const running = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  let report: RekeyReport;
  try {
    report = await rekey(rekeyer, { keyring, progressEvery: 50 });
  } finally {
    rekeying = false;
  }
  await running;
  await rekeyer.close();
  await app.close();
  expect(appErrors).toEqual([]);
  expect(wrong).toEqual([]);
  expect(report.complete, JSON.stringify(report)).toBe(true);

  // After: each tier alone, with k1 removed from the config.
  for (const name of report.tiers.map((t) => t.tier)) {
    const after = await open(single(name), [K2], 'k2');
    try {
      const ids = new Set<string | undefined>();
      let stored = 0;
      for await (const e of after.tier(after.tierNames[0]!)!.entries()) {
        ids.add(sealedKeyId(e.payload));
        stored++;
      }
      expect([...ids], `key ids of the payloads in ${name}`).toEqual(stored === 0 ? [] : ['k2']);
      const problems: string[] = [];
      for (let i = 0; i < entries; i++) {
        const hit = await after.lookup(keys[i]!, { claim: false });
        const text = hit?.entry.gens[0]?.text;
        if (text !== expected[i]) problems.push(`key ${i}: ${text} instead of ${expected[i]}`);
      }
      expect(problems, `${name} after the rotation`).toEqual([]);
      expect(stored).toBe(expected.filter((t) => t !== undefined).length);
    } finally {
      await after.close();
    }
  }
  return { report, opsDuringRekey: ops, hitsDuringRekey: hits };
}
