/**
 * rekey over SQLite and the semantic tier's local store: rotation under load, resuming, plain
 * entries, per-tenant entries, the semantic tier's sealed text, tiers without compare-and-set.
 */
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
import { keyForSealedTier } from '../core/encryption/at-rest.js';
import { type EncryptionConfig, Keyring, sealedKeyId } from '../core/encryption/keyring.js';
import { TenantKeys } from '../core/encryption/tenant.js';
import { deriveKey } from '../core/key.js';
import { Manager } from '../core/manager.js';
import type { ListedEntry } from '../core/tier.js';
import { SqliteTier } from '../tiers/sqlite/index.js';
import { createStrata } from './create.js';
import { type RekeyTierReport, rekey } from './rekey.js';
import type { Strata } from './strata.js';

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

  describe('the semantic tier (local store)', () => {
    const question = (i: number) => `What is the capital city of country number ${i}?`;
    const answer = (i: number) => `capital ${i}`;
    /** Another prompt for the same question (trailing whitespace): only the semantic tier can answer it. */
    const paraphrase = (i: number) => deriveKey('app', LLM, `${question(i)} `);

    function openBoth(dir: string, encryption: EncryptionConfig): Promise<Strata> {
      return createStrata(
        {
          namespace: 'app',
          coalesceWaitMs: 0,
          tiers: [
            { type: 'sqlite', path: join(dir, 'cache.db'), purgeIntervalSeconds: 0 },
            {
              type: 'semantic',
              embeddings: 'lexical',
              path: join(dir, 'semantic.db'),
              purgeIntervalSeconds: 0,
            },
          ],
          encryption,
        },
        { env, logger: quiet },
      );
    }

    /** Marks the entry that answers a paraphrase bad. */
    async function markBad(strata: Strata, i: number): Promise<void> {
      expect(await strata.markBad(paraphrase(i))).toBeGreaterThan(0);
    }

    async function filled(n: number): Promise<string> {
      const dir = join(file(), '..');
      const before = await openBoth(dir, { keys: [k1], active: 'k1' });
      for (let i = 0; i < n; i++)
        await before.update(deriveKey('app', LLM, question(i)), [{ text: answer(i) }]);
      await before.close();
      return dir;
    }

    /** The key id of every sealed column of every row of the semantic file (bad ones too), read raw. */
    function semanticKeyIds(dir: string): Record<string, number> {
      const db = new Database(join(dir, 'semantic.db'), { readonly: true });
      try {
        const counts: Record<string, number> = {};
        const rows = db.prepare('SELECT payload, prompt, query FROM semantic_entries').all() as Array<
          Record<string, string>
        >;
        for (const row of rows)
          for (const column of ['payload', 'prompt', 'query']) {
            const id = `${column}:${sealedKeyId(row[column]!) ?? 'plain'}`;
            counts[id] = (counts[id] ?? 0) + 1;
          }
        return counts;
      } finally {
        db.close();
      }
    }
    const under = (id: string, n: number) => ({
      [`payload:${id}`]: n,
      [`prompt:${id}`]: n,
      [`query:${id}`]: n,
    });

    it('moves payloads and question text to the new key, resumably; paraphrases hit with the new key alone', async () => {
      const n = 30;
      const dir = await filled(n);
      expect(semanticKeyIds(dir)).toEqual(under('k1', n));
      const rekeyer = await openBoth(dir, { keys: [k1, k2], active: 'k2' });
      try {
        const controller = new AbortController();
        const first = await rekey(rekeyer, {
          progressEvery: 10,
          signal: controller.signal,
          onProgress: (p) => p.tier === 'semantic' && p.scanned >= 10 && controller.abort(),
        });
        expect(first.complete).toBe(false);
        const stopped = first.tiers.find((t) => t.tier === 'semantic')!;
        expect(stopped).toMatchObject({ stopped: true, done: false });
        expect(stopped.rekeyed).toBeGreaterThanOrEqual(10);
        expect(stopped.rekeyed).toBeLessThan(n);
        const moved = stopped.rekeyed;
        expect(semanticKeyIds(dir)).toEqual({ ...under('k1', n - moved), ...under('k2', moved) });
        // Half-way, with both keys, every paraphrase still answers (the index kept up with the rows).
        for (let i = 0; i < n; i++) {
          const hit = await rekeyer.lookup(paraphrase(i), { claim: false });
          expect(hit?.tier, `${i}`).toBe('semantic');
          expect(hit?.entry.gens[0]?.text).toBe(answer(i));
        }
        const second = await rekey(rekeyer);
        expect(second.complete).toBe(true);
        expect(second.tiers.map((t) => t.tier)).toEqual(['sqlite', 'semantic']);
        expect(second.tiers[1]).toMatchObject({ scanned: n, rekeyed: n - moved, current: moved, changed: 0 });
        expect(semanticKeyIds(dir)).toEqual(under('k2', n));
        // What nearest() hands the tier is read from the rows at each search (no text is kept in
        // memory): the rows' new text, every entry still indexed.
        const { store } = rekeyer.tier('semantic') as unknown as {
          store: { counts(): { entries: number } };
        };
        expect(store.counts().entries).toBe(n);
      } finally {
        await rekeyer.close();
      }
      const after = await openBoth(dir, { keys: [k2], active: 'k2' });
      try {
        for (let i = 0; i < n; i++) {
          const hit = await after.lookup(paraphrase(i), { claim: false });
          expect(hit?.tier, `${i}`).toBe('semantic');
          expect(hit?.matchedPrompt).toBe(question(i));
          expect(hit?.entry.gens[0]?.text).toBe(answer(i));
        }
        expect((await after.tier('semantic')!.stats()).unopened).toBe(0);
      } finally {
        await after.close();
      }
    });

    it("leaves the gateway's per-tenant entries (payload and text) as they are, and says so", async () => {
      const dir = await filled(2);
      const strata = await openBoth(dir, { keys: [k1, k2], active: 'k1' });
      try {
        const tenant = new TenantKeys(ring('k1')).sealerFor(['authorization:bearer sk-someone']);
        await strata.update(deriveKey('app', LLM, question(7)), [{ text: 'tenant answer' }], {
          sealer: tenant,
        });
        const report = await rekey(strata, { keyring: ring('k2') });
        expect(report.complete).toBe(true);
        expect(report.tiers.find((t) => t.tier === 'semantic')).toMatchObject({ rekeyed: 2, tenant: 1 });
        expect(semanticKeyIds(dir)).toEqual({ ...under('k2', 2), ...under('t-k1', 1) });
      } finally {
        await strata.close();
      }
    });

    it('never brings back, or writes over, an entry deleted, marked bad or rewritten after it was read', async () => {
      const n = 12;
      const dir = await filled(n);
      const app = await openBoth(dir, { keys: [k1, k2], active: 'k2' });
      try {
        // Read as the rekey reads, then changed by the application before the write.
        const semantic = app.tier('semantic')!;
        const listed: ListedEntry[] = [];
        for await (const entry of semantic.entries()) listed.push(entry);
        expect(listed).toHaveLength(n);
        const byQuestion = (i: number) =>
          listed.find((e) => e.hash === deriveKey('app', LLM, question(i)).hash)!;
        await app.delete(deriveKey('app', LLM, question(0)));
        await markBad(app, 1);
        await app.update(deriveKey('app', LLM, question(2)), [{ text: 'rewritten' }]);
        for (const i of [0, 1, 2]) {
          const entry = byQuestion(i);
          expect(await semantic.replacePayload!(entry, entry.payload, 'sealed-elsewhere'), `${i}`).toBe(
            false,
          );
        }
        expect(await app.lookup(paraphrase(0), { claim: false })).toBeUndefined();
        expect(await app.lookup(paraphrase(1), { claim: false })).toBeUndefined();
        expect((await app.lookup(paraphrase(2), { claim: false }))?.entry.gens[0]?.text).toBe('rewritten');

        // During a rekey: entries not reached yet are deleted and marked bad (through the tier,
        // so that it happens at once, between two of the rekey's steps).
        expect((await app.lookup(paraphrase(n - 2), { claim: false }))?.tier).toBe('semantic');
        const told = (i: number) => keyForSealedTier(deriveKey('app', LLM, question(i)));
        const report = await rekey(app, {
          progressEvery: 1,
          onProgress: (p) => {
            if (p.tier !== 'semantic' || p.scanned !== 2) return;
            void semantic.delete(told(n - 1));
            void semantic.markBad!(keyForSealedTier(paraphrase(n - 2)));
          },
        });
        expect(report.complete).toBe(true);
        // Listed: the n - 2 entries left at the start (0 deleted, 1 marked bad) but the one deleted
        // on the way; the one marked bad on the way is read, and not written.
        expect(report.tiers.find((t) => t.tier === 'semantic')).toMatchObject({
          scanned: n - 3,
          changed: 1,
          current: 1,
          rekeyed: n - 5,
          done: true,
        });
        for (const i of [0, 1, n - 2, n - 1])
          expect(await app.lookup(paraphrase(i), { claim: false }), `${i}`).toBeUndefined();
      } finally {
        await app.close();
      }
      const db = new Database(join(dir, 'semantic.db'), { readonly: true });
      try {
        const row = (i: number) =>
          db
            .prepare('SELECT payload, prompt, query, bad FROM semantic_entries WHERE hash = ?')
            .get(deriveKey('app', LLM, question(i)).hash) as Record<string, string | number> | undefined;
        expect(row(0)).toBeUndefined();
        expect(row(n - 1)).toBeUndefined();
        // Marked bad: stays bad, and as it was (the old key: it never answers again, and is left alone).
        for (const i of [1, n - 2]) {
          expect(row(i)).toMatchObject({ bad: 1 });
          expect(sealedKeyId(row(i)!.payload as string)).toBe('k1');
          expect(sealedKeyId(row(i)!.query as string)).toBe('k1');
        }
        for (const i of [2, 3, n - 3])
          for (const column of ['payload', 'prompt', 'query'])
            expect(sealedKeyId(row(i)![column] as string), `${i} ${column}`).toBe('k2');
      } finally {
        db.close();
      }
    });
  });
});
