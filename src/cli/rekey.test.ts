/**
 * `strata rekey` over SQLite (and a semantic tier): progress lines, what it leaves, and an exit
 * code that tells the truth.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, cliWorkspaces, holdExclusiveLock } from '../../test/support/cli.js';
import { sealedKeyId } from '../core/encryption/keyring.js';
import { deriveKey } from '../core/key.js';
import { createStrata } from '../engine/create.js';

const { workspace } = cliWorkspaces('strata-rekey-cli-');
const LLM = 'model=rekey-cli,endpoint=https://llm.example';
const k1 = { id: 'k1', keyEnv: 'STRATA_TEST_REKEY_CLI_K1' };
const k2 = { id: 'k2', keyEnv: 'STRATA_TEST_REKEY_CLI_K2' };
const saved: Record<string, string | undefined> = {};

beforeEach(() => {
  for (const k of [k1, k2]) {
    saved[k.keyEnv] = process.env[k.keyEnv];
    process.env[k.keyEnv] = randomBytes(32).toString('base64');
  }
});
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

/** A SQLite cache of `n` entries sealed under k1; returns the workspace whose config has k1 + k2, active k2. */
async function sealedUnderK1(n: number, tier: Record<string, unknown> = {}) {
  const ws = workspace([{ type: 'sqlite', path: 'cache.db', ...tier }], {
    encryption: { keys: [k1, k2], active: 'k2' },
  });
  const path = join(ws.dir, 'cache.db');
  const before = await createStrata(
    { namespace: 'app', tiers: [{ type: 'sqlite', path }], encryption: { keys: [k1], active: 'k1' } },
    { logger: { warn: () => {} } },
  );
  for (let i = 0; i < n; i++) await before.update(deriveKey('app', LLM, `q${i}`), [{ text: `a${i}` }]);
  await before.close();
  return { ...ws, path };
}

function keyIds(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT response FROM cache_entries').pluck().all() as string[]).map(
      (p) => sealedKeyId(p) ?? 'plain',
    );
  } finally {
    db.close();
  }
}

describe('strata rekey', () => {
  it('moves every entry to the active key, with progress, and a second run has nothing to do', async () => {
    const ws = await sealedUnderK1(5);
    const first = await cli('rekey', '--config', ws.config);
    expect(first.code).toBe(0);
    expect(first.err[0]).toBe('strata rekey: moving entries to key k2');
    expect(first.err.at(-1)).toBe(
      'sqlite: 5 scanned, 5 rekeyed, 0 already current, 0 changed meanwhile (done)',
    );
    expect(keyIds(ws.path)).toEqual(Array(5).fill('k2'));
    const second = await cli('rekey', '--config', ws.config);
    expect(second.code).toBe(0);
    expect(second.err.at(-1)).toMatch(/5 scanned, 0 rekeyed, 5 already current/);
  });

  it('moves a semantic tier too: its payloads and its sealed question text', async () => {
    const semantic = {
      type: 'semantic' as const,
      embeddings: 'lexical' as const,
      path: 'semantic.db',
      purgeIntervalSeconds: 0,
    };
    const ws = workspace([{ type: 'sqlite', path: 'cache.db' }, semantic], {
      encryption: { keys: [k1, k2], active: 'k2' },
    });
    const path = join(ws.dir, 'semantic.db');
    const before = await createStrata(
      {
        namespace: 'app',
        tiers: [
          { type: 'sqlite', path: join(ws.dir, 'cache.db') },
          { ...semantic, path },
        ],
        encryption: { keys: [k1], active: 'k1' },
      },
      { logger: { warn: () => {} } },
    );
    for (let i = 0; i < 4; i++)
      await before.update(deriveKey('app', LLM, `What is question number ${i}?`), [{ text: `a${i}` }]);
    await before.close();
    const run = await cli('rekey', '--config', ws.config);
    expect(run.code).toBe(0);
    expect(run.err.at(-1)).toBe(
      'semantic: 4 scanned, 4 rekeyed, 0 already current, 0 changed meanwhile (done)',
    );
    const db = new Database(path, { readonly: true });
    try {
      const columns = db
        .prepare('SELECT payload, prompt, query FROM semantic_entries')
        .raw()
        .all() as string[][];
      expect(columns.flat().map((c) => sealedKeyId(c))).toEqual(Array(12).fill('k2'));
    } finally {
      db.close();
    }
  });

  it('exits 1 with the reason when a tier could not be rekeyed, and a later run finishes', async () => {
    const ws = await sealedUnderK1(3, { busyTimeoutMs: 100 });
    const release = holdExclusiveLock(ws.path);
    let locked: Awaited<ReturnType<typeof cli>>;
    try {
      locked = await cli('rekey', '--config', ws.config);
    } finally {
      release();
    }
    expect(locked.code).toBe(1);
    expect(locked.err.join('\n')).toMatch(/strata rekey: tier sqlite: not rekeyed \(.*lock/);
    expect(keyIds(ws.path)).toEqual(Array(3).fill('k1'));
    const again = await cli('rekey', '--config', ws.config);
    expect(again.code).toBe(0);
    expect(keyIds(ws.path)).toEqual(Array(3).fill('k2'));
  });

  it('says what it leaves: entries under a key the config lacks', async () => {
    const ws = await sealedUnderK1(2);
    const onlyK2 = workspace([{ type: 'sqlite', path: ws.path }], {
      encryption: { keys: [k2], active: 'k2' },
    });
    const result = await cli('rekey', '--config', onlyK2.config);
    expect(result.code).toBe(0);
    expect(result.out).toEqual([
      expect.stringMatching(/^sqlite: 2 entries are sealed under a key this config does not have/),
    ]);
    expect(keyIds(ws.path)).toEqual(['k1', 'k1']);
  });

  it('needs encryption in the config, and says so naming the field', async () => {
    const ws = workspace([{ type: 'sqlite', path: 'plain.db' }]);
    const seed = await createStrata(
      { namespace: 'app', tiers: [{ type: 'sqlite', path: join(ws.dir, 'plain.db') }] },
      { logger: { warn: () => {} } },
    );
    await seed.close();
    const result = await cli('rekey', '--config', ws.config);
    expect(result.code).toBe(2);
    expect(result.err.join('\n')).toMatch(/encryption.*is required to rekey/);
  });
});
