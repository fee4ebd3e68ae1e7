/**
 * Encryption at rest through the engine, over the tiers that need no service (memory, SQLite and
 * a semantic tier's local file): what reaches the disk, and that a wrong key, a swapped row, a
 * flipped bit and a planted plain row are misses counted as corrupt, never answers. The same
 * over every networked tier: test/encryption/canary.int.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../../../test/support/cli.js';
import { createStrata } from '../../engine/create.js';
import type { Strata } from '../../engine/strata.js';
import { StrataConfigError } from '../../errors.js';
import { deriveKey } from '../key.js';
import { type EncryptionConfig, isSealed, Keyring, sealedKeyId } from './keyring.js';

const LLM = 'model:"sim-1",temperature:0';
const K1 = 'STRATA_TEST_AT_REST_K1';
const K2 = 'STRATA_TEST_AT_REST_K2';
const env = { [K1]: randomBytes(32).toString('base64'), [K2]: randomBytes(32).toString('hex') };
const both = {
  keys: [
    { id: 'k1', keyEnv: K1 },
    { id: 'k2', keyEnv: K2 },
  ],
};

const dirs: string[] = [];
const opened: Strata[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-at-rest-'));
  dirs.push(dir);
  return dir;
}

async function open(
  dir: string,
  encryption: EncryptionConfig | undefined,
  o: { memory?: boolean; semantic?: boolean; env?: NodeJS.ProcessEnv; db?: string } = {},
): Promise<Strata> {
  const strata = await createStrata(
    {
      namespace: 'enc',
      coalesceWaitMs: 0,
      tiers: [
        ...(o.memory ? [{ type: 'memory' as const }] : []),
        { type: 'sqlite' as const, path: join(dir, o.db ?? 'cache.db'), purgeIntervalSeconds: 0 },
        ...(o.semantic
          ? [
              {
                type: 'semantic' as const,
                embeddings: 'lexical' as const,
                path: join(dir, 'semantic.db'),
                purgeIntervalSeconds: 0,
              },
            ]
          : []),
      ],
      ...(encryption ? { encryption } : {}),
    },
    { env: o.env ?? env, logger: { warn: () => {} } },
  );
  opened.push(strata);
  return strata;
}

async function closeAll(): Promise<void> {
  await Promise.all(opened.splice(0).map((s) => s.close()));
}

/** A unique text in Latin and Chinese script, so no file can hold it by chance. */
function canary(label: string): string {
  return `${label}-${randomBytes(8).toString('hex')} 机密${randomBytes(4).toString('hex')}内容`;
}

/** Every byte of every file under `dir` (SQLite's db, -wal and -shm included). */
function filesOf(dir: string): Array<{ name: string; bytes: Buffer }> {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => ({ name: d.name, bytes: readFileSync(join(d.parentPath, d.name)) }));
}

/** The forms a text could be found in: UTF-8, UTF-16LE, base64 of its UTF-8 (a trivial encoding). */
function forms(text: string): Buffer[] {
  const utf8 = Buffer.from(text, 'utf8');
  return [utf8, Buffer.from(text, 'utf16le'), Buffer.from(utf8.toString('base64').slice(0, 24))];
}

function expectNowhere(dir: string, texts: string[]): void {
  const files = filesOf(dir);
  expect(files.length).toBeGreaterThan(0);
  for (const { name, bytes } of files)
    for (const text of texts)
      for (const form of forms(text)) expect(bytes.includes(form), `${name} holds ${text}`).toBe(false);
}

const corruptOf = async (strata: Strata, tier: string) =>
  (await strata.stats()).tiers.find((t) => t.name === tier)!.corrupt;

describe('encryption at rest (memory, SQLite, semantic local file)', () => {
  it('keeps the prompt, answer, metadata and llm string out of every file, and still answers', async () => {
    const dir = tempDir();
    const prompt = canary('prompt');
    const answer = canary('answer');
    const meta = canary('meta');
    // LangChain's llm string carries request content: bound tools' descriptions, schemas, stop
    // sequences, a predicted-output document. Tiers keep it in a column.
    const tool = canary('tool');
    const llm = `${LLM},tools:[{"type":"function","function":{"name":"find_clause","description":"${tool}"}}]`;
    const strata = await open(dir, { ...both, active: 'k1' }, { memory: true, semantic: true });
    const key = deriveKey('enc', llm, prompt);
    await strata.update(key, [{ text: answer }], { tags: ['t1'], metadata: { note: meta } });
    // The memory tier keeps its plain payload (nothing at rest); the others hold sealed ones.
    expect((strata.tier('memory')!.get(key) as string).startsWith('{')).toBe(true);
    const held = (await strata.tier('sqlite')!.get(key)) as string;
    expect(isSealed(held)).toBe(true);
    expect(sealedKeyId(held)).toBe('k1');
    // While open (the write is in SQLite's -wal, beside -shm) and after close (checkpointed).
    await strata.flushWrites();
    expect(filesOf(dir).map((f) => f.name)).toEqual(expect.arrayContaining(['cache.db-wal', 'cache.db-shm']));
    expectNowhere(dir, [prompt, answer, meta, tool]);
    await closeAll();
    expectNowhere(dir, [prompt, answer, meta, tool]);

    const again = await open(dir, { ...both, active: 'k1' }, { semantic: true });
    const hit = await again.lookup(key);
    expect(hit?.tier).toBe('sqlite');
    expect(hit?.entry.gens[0]?.text).toBe(answer);
    expect(hit?.entry.meta).toEqual({ note: meta });
  });

  it('a semantic hit opens its sealed question text and payload', async () => {
    const dir = tempDir();
    const strata = await open(dir, { ...both, active: 'k1' }, { semantic: true });
    const question = `What is the capital of France ${randomBytes(3).toString('hex')}?`;
    await strata.update(deriveKey('enc', LLM, question), [{ text: 'Paris' }]);
    // Same question, another key (different trailing whitespace gives another prompt): only the
    // semantic tier can answer it.
    const hit = await strata.lookup(deriveKey('enc', LLM, `${question} `));
    expect(hit?.tier).toBe('semantic');
    expect(hit?.matchedPrompt).toBe(question);
    expect(hit?.entry.gens[0]?.text).toBe('Paris');
    await closeAll();
    expectNowhere(dir, [question]);
    // Reopened, the store's partitions (by the llm string's digest) still match the lookups'.
    const again = await open(dir, { ...both, active: 'k1' }, { semantic: true });
    const after = await again.lookup(deriveKey('enc', LLM, `${question}  `));
    expect(after?.tier).toBe('semantic');
    expect(after?.entry.gens[0]?.text).toBe('Paris');
  });

  it('markBad finds a sealed semantic entry in a process that never answered with it', async () => {
    const dir = tempDir();
    const question = `What is the capital of Peru ${randomBytes(3).toString('hex')}?`;
    await (await open(dir, { ...both, active: 'k1' }, { semantic: true })).update(
      deriveKey('enc', LLM, question),
      [{ text: 'Lima' }],
    );
    await closeAll();
    // A fresh process: the semantic tier finds the entry by the key it is told (the llm
    // string's digest under encryption), not by an answer it gave.
    const again = await open(dir, { ...both, active: 'k1' }, { semantic: true });
    const paraphrase = deriveKey('enc', LLM, `${question}  `);
    expect(await again.markBad(paraphrase)).toBe(1);
    expect(await again.lookup(paraphrase)).toBeUndefined();
  });

  it('a wrong key is a miss counted as corrupt, never an answer', async () => {
    const dir = tempDir();
    const key = deriveKey('enc', LLM, canary('p'));
    await (await open(dir, { keys: [{ id: 'k1', keyEnv: K1 }], active: 'k1' })).update(key, [
      { text: 'right' },
    ]);
    await closeAll();
    // Same key id, other bytes.
    const wrong = await open(dir, { keys: [{ id: 'k1', keyEnv: K2 }], active: 'k1' });
    expect(await wrong.lookup(key)).toBeUndefined();
    expect(await corruptOf(wrong, 'sqlite')).toBe(1);
    await closeAll();
    // Left in place: the right key still opens it.
    const right = await open(dir, { keys: [{ id: 'k1', keyEnv: K1 }], active: 'k1' });
    expect((await right.lookup(key))?.entry.gens[0]?.text).toBe('right');
    // No encryption at all: a sealed payload is not readable either.
    await closeAll();
    const plain = await open(dir, undefined);
    expect(await plain.lookup(key)).toBeUndefined();
    expect(await corruptOf(plain, 'sqlite')).toBe(1);
  });

  it('a payload copied to another row, or with a flipped bit, is a miss counted as corrupt', async () => {
    const dir = tempDir();
    const strata = await open(dir, { ...both, active: 'k1' });
    const a = deriveKey('enc', LLM, canary('a'));
    const b = deriveKey('enc', LLM, canary('b'));
    await strata.update(a, [{ text: 'answer A' }]);
    await strata.update(b, [{ text: 'answer B' }]);
    const sqlite = strata.tier('sqlite')!;
    const stored = (payload: string) => ({
      payload,
      size: payload.length,
      createdAt: 1,
      expiresAt: null,
      tags: [],
    });
    // B's sealed payload in A's row.
    await sqlite.set(a, stored((await sqlite.get(b)) as string));
    expect(await strata.lookup(a)).toBeUndefined();
    expect(await corruptOf(strata, 'sqlite')).toBe(1);
    // One bit of B's ciphertext flipped, at the start, middle and end of its body.
    const sealed = (await sqlite.get(b)) as string;
    const body = sealed.lastIndexOf('.') + 1;
    for (const [n, at] of [body, Math.floor((body + sealed.length) / 2), sealed.length - 2].entries()) {
      const c = sealed.charCodeAt(at);
      const flipped = sealed.slice(0, at) + String.fromCharCode(c === 65 ? 66 : 65) + sealed.slice(at + 1);
      await sqlite.set(b, stored(flipped));
      expect(await strata.lookup(b)).toBeUndefined();
      expect(await corruptOf(strata, 'sqlite')).toBe(2 + n);
    }
    // The right payload back in its row answers again.
    await sqlite.set(b, stored(sealed));
    expect((await strata.lookup(b))?.entry.gens[0]?.text).toBe('answer B');
  });

  it('a plain row in a sealed store is a miss, unless acceptPlaintext', async () => {
    const dir = tempDir();
    const key = deriveKey('enc', LLM, canary('old'));
    await (await open(dir, undefined)).update(key, [{ text: 'from before encryption' }]);
    await closeAll();
    const strict = await open(dir, { ...both, active: 'k1' });
    expect(await strict.lookup(key)).toBeUndefined();
    expect(await corruptOf(strict, 'sqlite')).toBe(1);
    await closeAll();
    const migrating = await open(dir, { ...both, active: 'k1', acceptPlaintext: true });
    expect((await migrating.lookup(key))?.entry.gens[0]?.text).toBe('from before encryption');
  });

  it('old keys open old entries after `active` changes; new entries are sealed under the new key', async () => {
    const dir = tempDir();
    const old = deriveKey('enc', LLM, canary('old'));
    const fresh = deriveKey('enc', LLM, canary('new'));
    await (await open(dir, { ...both, active: 'k1' })).update(old, [{ text: 'old answer' }]);
    await closeAll();
    const rotated = await open(dir, { ...both, active: 'k2' });
    expect((await rotated.lookup(old))?.entry.gens[0]?.text).toBe('old answer');
    await rotated.update(fresh, [{ text: 'new answer' }]);
    expect(sealedKeyId((await rotated.tier('sqlite')!.get(fresh)) as string)).toBe('k2');
    expect(sealedKeyId((await rotated.tier('sqlite')!.get(old)) as string)).toBe('k1');
    await closeAll();
    // k1 dropped: its entries no longer open (misses), the new key's still do.
    const onlyNew = await open(dir, { keys: [{ id: 'k2', keyEnv: K2 }], active: 'k2' });
    expect(await onlyNew.lookup(old)).toBeUndefined();
    expect((await onlyNew.lookup(fresh))?.entry.gens[0]?.text).toBe('new answer');
  });

  it('backfills memory in clear and a sealed tier sealed under the active key', async () => {
    const dir = tempDir();
    const key = deriveKey('enc', LLM, canary('backfill'));
    const config = (active: string) => ({ ...both, active });
    const tiers = (strata: Strata) => [strata.tier('memory')!, strata.tier('first')!, strata.tier('second')!];
    const create = (active: string) =>
      createStrata(
        {
          namespace: 'enc',
          coalesceWaitMs: 0,
          tiers: [
            { type: 'memory' },
            { type: 'sqlite', name: 'first', path: join(dir, 'first.db'), purgeIntervalSeconds: 0 },
            { type: 'sqlite', name: 'second', path: join(dir, 'second.db'), purgeIntervalSeconds: 0 },
          ],
          encryption: config(active),
        },
        { env, logger: { warn: () => {} } },
      ).then((strata) => {
        opened.push(strata);
        return strata;
      });
    const before = await create('k1');
    await before.update(key, [{ text: 'backfilled' }]);
    await closeAll();
    const after = await create('k2');
    const [memory, first] = tiers(after);
    await first!.delete(key);
    const backfilled: string[] = [];
    const twoBackfills = new Promise<void>((resolve) =>
      after.events.on('backfill', (e) => backfilled.push(e.to) === 2 && resolve()),
    );
    const hit = await after.lookup(key);
    expect(hit?.tier).toBe('second');
    await twoBackfills;
    expect(backfilled.sort()).toEqual(['first', 'memory']);
    expect(((await memory!.get(key)) as string).startsWith('{')).toBe(true);
    // Resealed under the key now active: a read moves an entry to it.
    expect(sealedKeyId((await first!.get(key)) as string)).toBe('k2');
    expect((await after.lookup(key))?.tier).toBe('memory');
  });

  it("a call's own sealer seals and opens instead of the config's", async () => {
    const dir = tempDir();
    const strata = await open(dir, { ...both, active: 'k1' });
    const tenant = new Keyring(new Map([['t1', randomBytes(32)]]), 't1');
    const other = new Keyring(new Map([['t1', randomBytes(32)]]), 't1');
    const key = deriveKey('enc', LLM, canary('tenant'));
    await strata.update(key, [{ text: 'tenant answer' }], { sealer: tenant });
    expect(sealedKeyId((await strata.tier('sqlite')!.get(key)) as string)).toBe('t1');
    expect(await strata.lookup(key)).toBeUndefined();
    expect(await strata.lookup(key, { sealer: other })).toBeUndefined();
    expect((await strata.lookup(key, { sealer: tenant }))?.entry.gens[0]?.text).toBe('tenant answer');
  });

  it("the semantic tier seals its question text under a call's own sealer too", async () => {
    const dir = tempDir();
    // No `encryption` in the config: only the call's keys seal.
    const strata = await open(dir, undefined, { semantic: true });
    const tenant = new Keyring(new Map([['t1', randomBytes(32)]]), 't1');
    const question = `What is the capital of ${canary('country')}?`;
    await strata.update(deriveKey('enc', LLM, question), [{ text: 'Paris' }], { sealer: tenant });
    const paraphrase = deriveKey('enc', LLM, `${question} `);
    const hit = await strata.lookup(paraphrase, { sealer: tenant });
    expect(hit?.tier).toBe('semantic');
    expect(hit?.matchedPrompt).toBe(question);
    // Without the call's keys, or with another's, the question does not open: never compared.
    expect(await strata.lookup(paraphrase)).toBeUndefined();
    const other = new Keyring(new Map([['t1', randomBytes(32)]]), 't1');
    expect(await strata.lookup(paraphrase, { sealer: other })).toBeUndefined();
    // A call without keys looks in the partition of the plain llm string (sealed entries sit under
    // its digest) and finds nothing to compare; another's keys find the entry and cannot open it.
    expect((await strata.tier('semantic')!.stats()).unopened).toBe(1);
    await closeAll();
    expectNowhere(dir, [question]);
  });

  it('export writes sealed lines that import opens with the keys, and search says why it cannot run', async () => {
    const dir = tempDir();
    const prompt = canary('exported');
    const answer = canary('exported-answer');
    const config = join(dir, 'strata.config.json');
    const write = (encryption: unknown, db: string) =>
      writeFileSync(
        config,
        JSON.stringify({
          namespace: 'enc',
          tiers: [{ type: 'sqlite', path: join(dir, db), purgeIntervalSeconds: 0 }],
          ...(encryption ? { encryption } : {}),
        }),
      );
    Object.assign(process.env, env);
    try {
      const strata = await open(dir, { ...both, active: 'k1' });
      await strata.update(deriveKey('enc', LLM, prompt), [{ text: answer }]);
      await closeAll();
      write({ ...both, active: 'k1' }, 'cache.db');
      const dump = join(dir, 'dump.jsonl');
      const exported = await cli('export', '--config', config, '--file', dump);
      expect(exported.code, exported.err.join('\n')).toBe(0);
      const text = readFileSync(dump, 'utf8');
      expect(JSON.parse(text.trim())).toMatchObject({
        sealed: expect.stringMatching(/^~s1\.k1\./),
        ns: 'enc',
      });
      for (const form of forms(prompt).concat(forms(answer)))
        expect(Buffer.from(text).includes(form)).toBe(false);

      // Into another encrypted cache with the same keys (rotated: k1 still listed).
      write({ ...both, active: 'k2' }, 'copy.db');
      const imported = await cli('import', '--config', config, '--file', dump);
      expect(imported.code, imported.err.join('\n')).toBe(0);
      const copy = await open(dir, { ...both, active: 'k2' }, { db: 'copy.db' });
      expect((await copy.lookup(deriveKey('enc', LLM, prompt)))?.entry.gens[0]?.text).toBe(answer);
      expect(sealedKeyId((await copy.tier('sqlite')!.get(deriveKey('enc', LLM, prompt))) as string)).toBe(
        'k2',
      );
      await closeAll();

      // Without the keys, a sealed line is refused with the reason.
      write(undefined, 'plain.db');
      const refused = await cli('import', '--config', config, '--file', dump);
      expect(refused.code).toBe(1);
      expect(refused.err.join('\n')).toMatch(/sealed and this config has no `encryption` keys/);

      write({ ...both, active: 'k1' }, 'cache.db');
      const searched = await cli('search', '--config', config, 'anything');
      expect(searched.code).toBe(2);
      expect(searched.err.join('\n')).toMatch(/encrypted at rest/);
    } finally {
      for (const name of Object.keys(env)) delete process.env[name];
    }
  });

  it('names the field of a bad encryption config', async () => {
    const dir = tempDir();
    const issues = async (encryption: unknown, tiers?: unknown[]) => {
      try {
        await createStrata(
          {
            tiers: (tiers ?? [{ type: 'sqlite', path: join(dir, 'c.db') }]) as never,
            encryption: encryption as never,
          },
          { env, logger: { warn: () => {} } },
        );
      } catch (error) {
        expect(error).toBeInstanceOf(StrataConfigError);
        return (error as StrataConfigError).issues.map((i) => i.path);
      }
      throw new Error('accepted');
    };
    expect(await issues({ keys: [{ id: 'k1', keyEnv: 'STRATA_TEST_UNSET_KEY' }], active: 'k1' })).toEqual([
      'encryption.keys[0].keyEnv',
    ]);
    expect(
      await issues({
        keys: [
          { id: 'k1', keyEnv: K1 },
          { id: 'k1', keyEnv: K2 },
        ],
        active: 'k1',
      }),
    ).toEqual(['encryption.keys[1].id']);
    expect(await issues({ ...both, active: 'k3' })).toEqual(['encryption.active']);
    expect(await issues({ keys: [{ id: 'bad.id', keyEnv: K1 }], active: 'bad.id' })).toContain(
      'encryption.keys[0].id',
    );
    expect(await issues({ keys: [], active: 'k1' })).toContain('encryption.keys');
    expect(await issues({ ...both, active: 'k1', extra: 1 })).toEqual(['encryption.extra']);
    expect(
      await issues({ ...both, active: 'k1' }, [
        { type: 'memory' },
        { type: 'gptcache', url: 'http://127.0.0.1:1' },
      ]),
    ).toEqual(['tiers[1].type']);
    const short = await createStrata(
      { tiers: [{ type: 'memory' }], encryption: { keys: [{ id: 'k1', keyEnv: 'SHORT' }], active: 'k1' } },
      { env: { SHORT: randomBytes(16).toString('base64') }, logger: { warn: () => {} } },
    ).then(
      () => undefined,
      (error: StrataConfigError) => error.issues,
    );
    expect(short).toEqual([
      { path: 'encryption.keys[0].keyEnv', message: expect.stringMatching(/not a 32-byte key/) },
    ]);
  });
});
