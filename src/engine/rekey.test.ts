/** rekey over SQLite: rotation under load, resuming, plain entries, per-tenant entries, tiers without compare-and-set. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultyTier } from '../../test/support/faulty-tier.js';
import { rotateUnderLoad } from '../../test/support/rotation.js';
import type { StrataConfig } from '../config/schema.js';
import { systemClock } from '../core/clock.js';
import { Keyring, sealedKeyId } from '../core/encryption/keyring.js';
import { TenantKeys } from '../core/encryption/tenant.js';
import { deriveKey } from '../core/key.js';
import { Manager } from '../core/manager.js';
import { SqliteTier } from '../tiers/sqlite/index.js';
import { createStrata } from './create.js';
import { type RekeyTierReport, rekey } from './rekey.js';

const LLM = 'model=rekey-test,endpoint=https://llm.example';
const quiet = { warn: () => {} };
const env = { REKEY_K1: randomBytes(32).toString('base64'), REKEY_K2: randomBytes(32).toString('base64') };
const k1 = { id: 'k1', keyEnv: 'REKEY_K1' };
const k2 = { id: 'k2', keyEnv: 'REKEY_K2' };
const ring = (active: string) => Keyring.fromConfig({ keys: [k1, k2], active }, env);

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function file(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-rekey-'));
  dirs.push(dir);
  return join(dir, 'cache.db');
}

function keyIds(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true });
  try {
    const counts: Record<string, number> = {};
    for (const payload of db.prepare('SELECT response FROM cache_entries').pluck().all() as string[]) {
      const id = sealedKeyId(payload) ?? 'plain';
      counts[id] = (counts[id] ?? 0) + 1;
    }
    return counts;
  } finally {
    db.close();
  }
}

async function fill(path: string, encryption: object | undefined, n: number, memory = false) {
  const strata = await createStrata(
    {
      namespace: 'app',
      tiers: [...(memory ? [{ type: 'memory' as const }] : []), { type: 'sqlite', path }],
      ...(encryption ? { encryption } : {}),
    } as StrataConfig,
    { env, logger: quiet },
  );
  for (let i = 0; i < n; i++) await strata.update(deriveKey('app', LLM, `q${i}`), [{ text: `a${i}` }]);
  return strata;
}

describe('rekey', () => {
  it('rotation under load over SQLite loses nothing and brings nothing back', async () => {
    const path = file();
    const outcome = await rotateUnderLoad([{ type: 'sqlite', path, name: 'sqlite' }], (name) => [
      { type: 'sqlite', path, name },
    ]);
    expect(outcome.report.tiers[0]!.rekeyed).toBeGreaterThan(0);
    expect(outcome.opsDuringRekey).toBeGreaterThan(0);
  });

  it('is resumable: stopped half-way, run again, it moves only what is left', async () => {
    const path = file();
    const strata = await fill(path, { keys: [k1], active: 'k1' }, 120);
    await strata.close();
    const again = await createStrata(
      { namespace: 'app', tiers: [{ type: 'sqlite', path }], encryption: { keys: [k1, k2], active: 'k2' } },
      { env, logger: quiet },
    );
    try {
      const controller = new AbortController();
      const first = await rekey(again, {
        keyring: ring('k2'),
        progressEvery: 50,
        signal: controller.signal,
        onProgress: (p) => p.scanned >= 50 && controller.abort(),
      });
      expect(first.complete).toBe(false);
      expect(first.tiers[0]).toMatchObject({ stopped: true, done: false });
      const moved = first.tiers[0]!.rekeyed;
      expect(moved).toBeGreaterThanOrEqual(50);
      expect(moved).toBeLessThan(120);
      expect(keyIds(path)).toEqual({ k1: 120 - moved, k2: moved });
      const second = await rekey(again, { keyring: ring('k2') });
      expect(second.complete).toBe(true);
      expect(second.tiers[0]).toMatchObject({
        scanned: 120,
        rekeyed: 120 - moved,
        current: moved,
        done: true,
      });
      expect(keyIds(path)).toEqual({ k2: 120 });
      const third = await rekey(again, { keyring: ring('k2') });
      expect(third.tiers[0]).toMatchObject({ rekeyed: 0, current: 120 });
    } finally {
      await again.close();
    }
  });

  it('skips the memory tier (never sealed) and seals plain entries only with acceptPlaintext', async () => {
    const path = file();
    const strata = await fill(path, undefined, 10, true);
    try {
      const without = await rekey(strata, { keyring: ring('k2') });
      expect(without.tiers.map((t) => t.tier)).toEqual(['sqlite']);
      expect(without.tiers[0]).toMatchObject({ plain: 10, rekeyed: 0 });
      expect(keyIds(path)).toEqual({ plain: 10 });
      const withPlain = await rekey(strata, { keyring: ring('k2'), acceptPlaintext: true });
      expect(withPlain.tiers[0]).toMatchObject({ rekeyed: 10, done: true });
      expect(keyIds(path)).toEqual({ k2: 10 });
    } finally {
      await strata.close();
    }
    const sealed = await createStrata(
      { namespace: 'app', tiers: [{ type: 'sqlite', path }], encryption: { keys: [k2], active: 'k2' } },
      { env, logger: quiet },
    );
    try {
      expect((await sealed.lookup(deriveKey('app', LLM, 'q3'), { claim: false }))?.entry.gens[0]?.text).toBe(
        'a3',
      );
    } finally {
      await sealed.close();
    }
  });

  it("leaves the gateway's per-tenant entries as they are, and says so", async () => {
    const path = file();
    const strata = await fill(path, { keys: [k1, k2], active: 'k1' }, 3);
    try {
      const tenant = new TenantKeys(ring('k1')).sealerFor(['authorization:bearer sk-someone']);
      await strata.update(deriveKey('gw/key:x', LLM, 'tenant question'), [{ text: 'tenant answer' }], {
        sealer: tenant,
      });
      const report = await rekey(strata, { keyring: ring('k2') });
      expect(report.complete).toBe(true);
      expect(report.tiers[0]).toMatchObject({ rekeyed: 3, tenant: 1, unopenable: 0 });
      expect(keyIds(path)).toEqual({ k2: 3, 't-k1': 1 });
    } finally {
      await strata.close();
    }
  });

  it('a tier without compare-and-set is not rekeyed, with the reason', async () => {
    const path = file();
    await (await fill(path, { keys: [k1], active: 'k1' }, 2)).close();
    const inner = new SqliteTier({ path, purgeIntervalMs: 0, busyTimeoutMs: 1_000, clock: systemClock });
    const manager = new Manager(
      [
        {
          tier: new FaultyTier(inner, 'plain-driver'),
          options: {
            timeoutMs: 1_000,
            breaker: { failureThreshold: 5, cooldownMs: 1_000, maxCooldownMs: 1_000 },
            sealed: true,
          },
        },
      ],
      {
        clock: systemClock,
        coalesceWaitMs: 0,
        storePrompt: true,
        logger: quiet,
        encryption: { sealer: ring('k2') },
      },
    );
    try {
      const progress: RekeyTierReport[] = [];
      const report = await rekey(manager, { keyring: ring('k2'), onProgress: (p) => progress.push(p) });
      expect(report.complete).toBe(false);
      expect(report.tiers[0]!.failure).toMatch(/plain-driver cannot rewrite an entry in place/);
      expect(keyIds(path)).toEqual({ k1: 2 });
      expect(progress.at(-1)?.failure).toBeDefined();
    } finally {
      await manager.close();
    }
  });
});
