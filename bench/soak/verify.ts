/**
 * The end of the soak: with the faults off and the engine closed, each durable tier is opened
 * on its own, straight to its backend (no proxy), and asked for every answer the ledger says it
 * acknowledged and must still hold.
 */
import type { StrataConfig } from '../../src/config/schema.js';
import { createStrata } from '../../src/engine/create.js';
import type { Strata } from '../../src/engine/strata.js';
import type { Ledger } from './ledger.js';
import { answerFor } from './workload.js';

/** An entry this close to its expiry is not checked: it may run out while being read. */
const EXPIRY_MARGIN_MS = 10_000;

export interface Verdict {
  keys: number;
  /** Last change of the key was a clean, acknowledged update: checked. */
  checkable: number;
  expired: number;
  raced: number;
  erased: number;
  /** Per tier: entries checked and found exactly. */
  checked: Record<string, number>;
  ok: Record<string, number>;
  losses: string[];
}

export async function verify(
  ledger: Ledger,
  tiers: Record<string, StrataConfig['tiers'][number]>,
  keyOf: (strata: Strata, prompt: string) => Parameters<Strata['lookup']>[0],
): Promise<Verdict> {
  const engines: Record<string, Strata> = {};
  const verdict: Verdict = {
    keys: 0,
    checkable: 0,
    expired: 0,
    raced: 0,
    erased: 0,
    checked: {},
    ok: {},
    losses: [],
  };
  try {
    for (const [name, tier] of Object.entries(tiers)) {
      engines[name] = await createStrata(
        { coalesceWaitMs: 0, tiers: [tier] },
        { logger: { warn: (m) => console.error(`[soak verify] ${m}`) } },
      );
      verdict.checked[name] = 0;
      verdict.ok[name] = 0;
    }
    const now = Date.now();
    for (const [prompt, state] of ledger.entries()) {
      verdict.keys++;
      const record = state.record;
      if (!record || record.kind === 'erased') {
        verdict.erased++;
        continue;
      }
      if (record.kind === 'raced') {
        verdict.raced++;
        continue;
      }
      if (record.expiresAt !== null && record.expiresAt < now + EXPIRY_MARGIN_MS) {
        verdict.expired++;
        continue;
      }
      verdict.checkable++;
      for (const tier of record.tiers) {
        const strata = engines[tier]!;
        verdict.checked[tier]!++;
        const hit = await strata.lookup(keyOf(strata, prompt), { claim: false, wait: 'never' });
        const text = hit?.entry.gens[0]?.text;
        if (text === answerFor(prompt, record.version)) {
          verdict.ok[tier]!++;
          continue;
        }
        const version = typeof text === 'string' ? /^answer to ".*" v(\d+): /s.exec(text)?.[1] : undefined;
        const found =
          text === undefined
            ? 'absent'
            : version !== undefined && text === answerFor(prompt, Number(version))
              ? `v${version} instead`
              : `another text (${String(text).slice(0, 60)})`;
        const failed = ledger.failedErasureBefore(tier, prompt, record.startedAt);
        const why =
          failed === undefined
            ? 'no erasure covering it had failed on this tier before the write'
            : `an erasure covering it failed on this tier ${((record.startedAt - failed) / 1000).toFixed(1)} s before the write (its background retry may have run after the write)`;
        verdict.losses.push(
          `${tier}: "${prompt}" v${record.version} (acknowledged by ${record.tiers.join('+')} at ${new Date(record.at).toISOString()}, ttl left ${record.expiresAt === null ? 'none' : `${Math.round((record.expiresAt - now) / 1000)} s`}): ${found}; ${why}`,
        );
      }
    }
  } finally {
    for (const strata of Object.values(engines)) await strata.close();
  }
  return verdict;
}
