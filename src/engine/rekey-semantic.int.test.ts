/**
 * rekey over the semantic tier's shared store (PostgreSQL + pgvector): payloads and the tier's
 * sealed question text move to the new key by compare-and-set, entries changed after they were
 * read are left as the application left them, and paraphrases still hit with the old key removed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { service } from '../../test/support/services.js';
import { type EncryptionConfig, sealedKeyId } from '../core/encryption/keyring.js';
import { deriveKey } from '../core/key.js';
import type { ListedEntry } from '../core/tier.js';
import { createStrata } from './create.js';
import { rekey } from './rekey.js';
import type { Strata } from './strata.js';

const url = service('postgres').STRATA_TEST_POSTGRES_URL!;
const tablePrefix = `rks${randomUUID().replaceAll('-', '').slice(0, 10)}_`;
const raw = new pg.Pool({ connectionString: url, max: 1 });
raw.on('error', () => {});

afterAll(async () => {
  for (const { name } of await tables()) await raw.query(`DROP TABLE IF EXISTS ${name}`);
  await raw.end();
});

async function tables(): Promise<Array<{ name: string }>> {
  const { rows } = await raw.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE tablename LIKE $1 || 'semantic_%'",
    [tablePrefix],
  );
  return rows;
}

const LLM = 'model=rekey-semantic-test,endpoint=https://llm.example';
const env = {
  REKEY_SEM_K1: randomBytes(32).toString('base64'),
  REKEY_SEM_K2: randomBytes(32).toString('base64'),
};
const k1 = { id: 'k1', keyEnv: 'REKEY_SEM_K1' };
const k2 = { id: 'k2', keyEnv: 'REKEY_SEM_K2' };
const quiet = { warn: () => {} };

const question = (i: number) => `What is the capital city of country number ${i}?`;
const answer = (i: number) => `capital ${i}`;
const keyOf = (i: number) => deriveKey('app', LLM, question(i));
/** Another prompt for the same question (trailing whitespace): only the semantic tier can answer it. */
const paraphrase = (i: number) => deriveKey('app', LLM, `${question(i)} `);

function open(encryption: EncryptionConfig): Promise<Strata> {
  return createStrata(
    {
      namespace: 'app',
      coalesceWaitMs: 0,
      tiers: [
        {
          type: 'semantic',
          embeddings: 'lexical',
          purgeIntervalSeconds: 0,
          store: { type: 'postgres', url, tablePrefix },
        },
      ],
      encryption,
    },
    { env, logger: quiet },
  );
}

/** Every row of the store, read raw: its key hash, whether it is marked bad, and each sealed column's key id. */
async function rows(): Promise<Array<{ hash: string; bad: boolean; ids: Array<string | undefined> }>> {
  const [table] = await tables();
  const { rows } = await raw.query<{
    hash: string;
    bad: boolean;
    payload: string;
    prompt: string;
    query: string;
  }>(`SELECT hash, bad, payload, prompt, query FROM ${table!.name}`);
  return rows.map((r) => ({
    hash: r.hash,
    bad: r.bad,
    ids: [r.payload, r.prompt, r.query].map(sealedKeyId),
  }));
}

describe('rekey, semantic tier over PostgreSQL + pgvector', () => {
  it('moves payloads and question text to the new key; what changed after it was read is left alone', async () => {
    const n = 20;
    const before = await open({ keys: [k1], active: 'k1' });
    for (let i = 0; i < n; i++) await before.update(keyOf(i), [{ text: answer(i) }]);
    await before.close();
    expect((await rows()).every((r) => r.ids.every((id) => id === 'k1'))).toBe(true);

    const app = await open({ keys: [k1, k2], active: 'k2' });
    try {
      // Read as the rekey reads them, then deleted, rewritten and marked bad before the write.
      const semantic = app.tier('semantic')!;
      const listed: ListedEntry[] = [];
      for await (const entry of semantic.entries()) listed.push(entry);
      expect(listed).toHaveLength(n);
      await app.delete(keyOf(0));
      await app.update(keyOf(1), [{ text: 'rewritten' }]);
      expect((await app.lookup(paraphrase(2), { claim: false }))?.tier).toBe('semantic');
      expect(await app.markBad(paraphrase(2))).toBe(1);
      for (const i of [0, 1, 2]) {
        const entry = listed.find((e) => e.hash === keyOf(i).hash)!;
        expect(await semantic.replacePayload!(entry, entry.payload, 'sealed-elsewhere'), `${i}`).toBe(false);
      }

      const report = await rekey(app);
      expect(report.complete).toBe(true);
      expect(report.tiers).toMatchObject([
        { tier: 'semantic', scanned: n - 2, rekeyed: n - 3, current: 1, changed: 0, done: true },
      ]);
    } finally {
      await app.close();
    }

    const stored = await rows();
    expect(stored.find((r) => r.hash === keyOf(0).hash)).toBeUndefined();
    // Marked bad: left exactly as it was (it never answers again).
    expect(stored.find((r) => r.hash === keyOf(2).hash)).toMatchObject({
      bad: true,
      ids: ['k1', 'k1', 'k1'],
    });
    const live = stored.filter((r) => !r.bad);
    expect(live).toHaveLength(n - 2);
    for (const r of live) expect(r.ids, r.hash).toEqual(['k2', 'k2', 'k2']);

    const after = await open({ keys: [k2], active: 'k2' });
    try {
      for (let i = 3; i < n; i++) {
        const hit = await after.lookup(paraphrase(i), { claim: false });
        expect(hit?.tier, `${i}`).toBe('semantic');
        expect(hit?.matchedPrompt).toBe(question(i));
        expect(hit?.entry.gens[0]?.text).toBe(answer(i));
      }
      expect((await after.lookup(paraphrase(1), { claim: false }))?.entry.gens[0]?.text).toBe('rewritten');
      expect(await after.lookup(paraphrase(0), { claim: false })).toBeUndefined();
      expect(await after.lookup(paraphrase(2), { claim: false })).toBeUndefined();
      expect((await after.tier('semantic')!.stats()).unopened).toBe(0);
    } finally {
      await after.close();
    }
  }, 60_000);
});
