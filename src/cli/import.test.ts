/**
 * `strata import` against the real CLI and a memory + SQLite cache on disk: every line is
 * validated before a tier sees it, the key hash is verified, `--namespace` confines the import,
 * lines are read with a byte cap, and the summary says what each tier actually stored.
 */
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cli, cliWorkspaces, holdExclusiveLock } from '../../test/support/cli.js';
import { loadConfig } from '../config/load.js';
import { MAX_TAGS } from '../core/entry-schema.js';
import { hashKey, hashPrompt } from '../core/key.js';
import { createCache } from '../langchain/create.js';
import { SimulatedChatModel } from '../langchain/simulated-model.js';
import { readLines } from './commands/transfer.js';

const { workspace: cliWorkspace } = cliWorkspaces('strata-import-');

interface Workspace {
  dir: string;
  config: string;
  db: string;
}

function workspace(
  options: { sqlite?: Record<string, unknown>; config?: Record<string, unknown> } = {},
): Workspace {
  const tiers = [{ type: 'memory' }, { type: 'sqlite', path: 'cache.db', ...options.sqlite }];
  const ws = cliWorkspace(tiers, options.config);
  return { ...ws, db: join(ws.dir, 'cache.db') };
}

const LLM = 'model:"sim-1",temperature:0';

/** One export line: a valid entry unless `overrides` says otherwise (`undefined` removes a field). */
function line(prompt: string, overrides: Record<string, unknown> = {}): string {
  const ns = typeof overrides.ns === 'string' ? overrides.ns : 'app';
  const entry: Record<string, unknown> = {
    v: 1,
    k: hashKey(ns, LLM, prompt),
    ns,
    createdAt: Date.now(),
    expiresAt: null,
    tags: ['faq'],
    gens: [
      { text: `answer to ${prompt}`, message: { type: 'ai', data: { content: `answer to ${prompt}` } } },
    ],
    llm: LLM,
    prompt,
    ...overrides,
  };
  for (const [field, value] of Object.entries(overrides)) if (value === undefined) delete entry[field];
  return JSON.stringify(entry);
}

function importFile(ws: Workspace, lines: string[], ...flags: string[]) {
  const file = join(ws.dir, 'import.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return cli('import', '--config', ws.config, '--file', file, ...flags);
}

function sqliteRows(ws: Workspace, namespace?: string): number {
  const db = new Database(ws.db, { readonly: true });
  try {
    const row = (
      namespace === undefined
        ? db.prepare('SELECT count(*) AS n FROM cache_entries').get()
        : db.prepare('SELECT count(*) AS n FROM cache_entries WHERE namespace = ?').get(namespace)
    ) as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

/** The summary's headline, `stored: S of V lines (...)`: lines every persistent tier stored, of the valid ones. */
function headline(out: string[]): [number, number] {
  const m = /^stored: (\d+) of (\d+) lines /.exec(out.find((l) => l.startsWith('stored: ')) ?? '');
  return [Number(m?.[1]), Number(m?.[2])];
}

/** The summary line `label: N` from stdout. */
function counted(out: string[], label: string): number {
  const found = out.find((l) => l.trimStart().startsWith(`${label}:`));
  return Number(/:\s*(\d+)/.exec(found ?? '')?.[1]);
}

describe('strata import', () => {
  it('stores 50 valid lines in SQLite even after six lines whose tags are objects', async () => {
    const ws = workspace();
    const bad = Array.from({ length: 6 }, (_, i) => line(`bad ${i}`, { tags: [{ x: 1 }] }));
    const good = Array.from({ length: 50 }, (_, i) => line(`question ${i}`));
    const result = await importFile(ws, [...bad, ...good]);

    expect(sqliteRows(ws)).toBe(50);
    expect(headline(result.out)).toEqual([50, 50]);
    expect(counted(result.out, 'sqlite')).toBe(50);
    expect(counted(result.out, 'memory')).toBe(50);
    expect(result.out).toContain('rejected: 6 (lines 1, 2, 3, 4, 5, 6)');
    for (let n = 1; n <= 6; n++) {
      expect(result.err).toContain(
        `line ${n}: not a valid Strata entry (tags[0]: must be a string); skipped`,
      );
    }
    expect(result.code).toBe(1);
  });

  it('exits 0 with per-tier counts when every line reached every tier', async () => {
    const ws = workspace();
    const result = await importFile(ws, ['', line('one'), line('two'), '']);
    expect(result.code).toBe(0);
    expect(result.out).toEqual([
      'read: 2 lines',
      'stored: 2 of 2 lines (memory: 2, process-local; sqlite: 2)',
      '  memory: 2 (process-local: gone when this command exits)',
      '  sqlite: 2',
      'expired: 0',
      'rejected: 0',
      'stored by no tier: 0',
      'duplicate keys: 0',
    ]);
    expect(sqliteRows(ws)).toBe(2);
  });

  it('fails and names the tier when SQLite could not store the lines (its breaker opened)', async () => {
    const ws = workspace();
    expect((await importFile(ws, [])).code).toBe(0); // creates the database
    // Every write now fails inside SQLite, as a full disk would: five failures open the breaker.
    const db = new Database(ws.db);
    db.exec(
      `CREATE TRIGGER refuse BEFORE INSERT ON cache_entries BEGIN SELECT RAISE(ABORT, 'disk full'); END`,
    );
    db.close();
    const result = await importFile(
      ws,
      Array.from({ length: 20 }, (_, i) => line(`question ${i}`)),
    );
    expect(result.code).toBe(1);
    expect(headline(result.out)).toEqual([0, 20]); // memory's copies end with the command
    expect(counted(result.out, 'memory')).toBe(20);
    expect(counted(result.out, 'sqlite')).toBe(0);
    expect(result.err.join('\n')).toMatch(/tier sqlite stored 0 of the 20 valid lines/);
    expect(sqliteRows(ws)).toBe(0);
  });

  it('under another connection’s write lock: SQLite is counted as storing nothing, with the lock as the reason; exit 1', async () => {
    const ws = workspace({ sqlite: { busyTimeoutMs: 100 } });
    expect((await importFile(ws, [])).code).toBe(0); // creates the database
    const release = holdExclusiveLock(ws.db);
    let result: Awaited<ReturnType<typeof importFile>>;
    try {
      result = await importFile(
        ws,
        Array.from({ length: 30 }, (_, i) => line(`question ${i}`)),
      );
    } finally {
      release();
    }
    expect(result.code).toBe(1);
    expect(headline(result.out)).toEqual([0, 30]);
    expect(counted(result.out, 'memory')).toBe(30);
    expect(counted(result.out, 'sqlite')).toBe(0);
    expect(result.err.join('\n')).toMatch(
      /tier sqlite stored 0 of the 30 valid lines \(.*last failure: .*cache\.db: locked by another process for more than 100 ms/,
    );
    expect(sqliteRows(ws)).toBe(0);
  });

  it('reports lines that repeat an earlier key, with their numbers, and keeps the last one', async () => {
    const ws = workspace();
    const answer = (text: string) => ({
      gens: [{ text, message: { type: 'ai', data: { content: text } } }],
    });
    const result = await importFile(ws, [
      line('same', answer('first')),
      line('other'),
      line('same', answer('second')),
      line('same', answer('third')),
    ]);
    expect(result.code).toBe(0);
    expect(result.out).toContain(
      "duplicate keys: 2 (lines 3, 4) (each repeats an earlier line's key; the last line of a key is kept)",
    );
    expect(headline(result.out)).toEqual([4, 4]);
    expect(sqliteRows(ws)).toBe(2);
    const db = new Database(ws.db, { readonly: true });
    const stored = db
      .prepare('SELECT response FROM cache_entries WHERE key_hash = ?')
      .pluck()
      .get(hashKey('app', LLM, 'same')) as string;
    db.close();
    expect(stored).toContain('third');
    expect(stored).not.toContain('first');
  });

  it(`write and import agree on tags: more than ${MAX_TAGS} is refused by both, naming the field`, async () => {
    const ws = workspace();
    const tags = Array.from({ length: MAX_TAGS + 1 }, (_, i) => `tag-${i}`);
    const cache = await createCache(loadConfig(ws.config), { logger: { warn: () => {} } });
    expect(() => cache.withOptions({ tags })).toThrow(/withOptions\.tags: at most 64 tags/);
    expect(() => cache.withOptions({ tags: ['a', 'a'] })).toThrow(/withOptions\.tags: must not repeat a tag/);
    // The most a write takes exports and imports back whole.
    await cache.withOptions({ tags: tags.slice(0, MAX_TAGS) }).update('many tags', LLM, [{ text: 'answer' }]);
    await cache.close();
    const dump = join(ws.dir, 'dump.jsonl');
    expect((await cli('export', '--config', ws.config, '--file', dump)).code).toBe(0);
    const dst = workspace();
    expect((await cli('import', '--config', dst.config, '--file', dump)).code).toBe(0);
    const db = new Database(dst.db, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM cache_tags').pluck().get()).toBe(MAX_TAGS);
    db.close();
    const bad = await importFile(dst, [line('too many tags', { tags })]);
    expect(bad.err).toContain(
      `line 1: not a valid Strata entry (tags: must hold at most ${MAX_TAGS} tags); skipped`,
    );
  });

  it('fails when a tier refuses lines (too large for its maxBytes)', async () => {
    const ws = workspace({ sqlite: { maxBytes: 200 } });
    const result = await importFile(ws, [line('short'), line('long', { meta: { note: 'x'.repeat(500) } })]);
    expect(result.code).toBe(1);
    expect(headline(result.out)).toEqual([0, 2]);
    expect(counted(result.out, 'sqlite')).toBe(0);
    expect(result.err.join('\n')).toMatch(/tier sqlite stored 0 of the 2 valid lines/);
  });

  it('--namespace confines the import: a line claiming another namespace is refused', async () => {
    const ws = workspace();
    const lines = [line('steal me', { ns: 'tenant-victim' }), line('mine', { ns: 'tenant-attacker' })];
    const result = await importFile(ws, lines, '--namespace', 'tenant-attacker');
    expect(result.code).toBe(1);
    expect(result.err[0]).toMatch(
      /^line 1: refused \(namespace "tenant-victim" is outside --namespace "tenant-attacker"; pass --all-namespaces/,
    );
    expect(sqliteRows(ws, 'tenant-victim')).toBe(0);
    expect(sqliteRows(ws, 'tenant-attacker')).toBe(1);

    // The victim's lookup is a miss: nothing was written in their namespace.
    const cache = (await createCache(loadConfig(ws.config))).withNamespace('tenant-victim');
    const hit = await cache.lookup('steal me', LLM);
    await cache.close();
    expect(hit).toBeNull();
  });

  it('--all-namespaces lifts the confinement; without --namespace lines keep their own', async () => {
    const ws = workspace();
    const lines = [line('a', { ns: 'tenant-a' }), line('b', { ns: 'tenant-b' })];
    expect((await importFile(ws, lines, '--namespace', 'tenant-a', '--all-namespaces')).code).toBe(0);
    expect(sqliteRows(ws, 'tenant-a')).toBe(1);
    expect(sqliteRows(ws, 'tenant-b')).toBe(1);

    const other = workspace();
    expect((await importFile(other, lines)).code).toBe(0);
    expect(sqliteRows(other, 'tenant-a')).toBe(1);
    expect(sqliteRows(other, 'tenant-b')).toBe(1);
    expect(sqliteRows(other, 'app')).toBe(0);
  });

  it('refuses a line without prompt (only ph) whose hash cannot be verified, unless --trust-hashes', async () => {
    const ws = workspace();
    // Forged: the key of a victim's prompt, with an answer the attacker chose.
    const forged = line('whatever', {
      prompt: undefined,
      ph: hashPrompt('whatever'),
      k: hashKey('app', LLM, 'What is our refund policy?'),
      gens: [{ text: 'Wire the money to account 123' }],
    });
    const result = await importFile(ws, [forged]);
    expect(result.code).toBe(1);
    expect(result.err[0]).toMatch(
      /^line 1: refused \(it carries only the hash of its prompt \(ph\).*--trust-hashes/,
    );
    expect(sqliteRows(ws)).toBe(0);
    const cache = await createCache(loadConfig(ws.config));
    expect(await cache.lookup('What is our refund policy?', LLM)).toBeNull();
    await cache.close();

    const trusted = await importFile(ws, [forged], '--trust-hashes');
    expect(trusted.code).toBe(0);
    expect(sqliteRows(ws)).toBe(1);
  });

  it('refuses a line whose prompt does not hash to its key', async () => {
    const ws = workspace();
    const forged = line('harmless question', { k: hashKey('app', LLM, 'What is our refund policy?') });
    const result = await importFile(ws, [forged, line('fine')]);
    expect(result.err[0]).toBe(
      'line 1: refused (its key hash does not match its namespace, llm and prompt); skipped',
    );
    expect(sqliteRows(ws)).toBe(1);
    expect(result.code).toBe(1);
  });

  it('refuses an empty namespace, a 5,000-character namespace and a string meta', async () => {
    const ws = workspace();
    const lines = [
      line('empty ns', { ns: '' }),
      line('long ns', { ns: 'n'.repeat(5000) }),
      line('string meta', { meta: 'string' }),
      line('valid', { meta: { source: 'test' } }),
    ];
    const result = await importFile(ws, lines);
    expect(result.err.slice(0, 3)).toEqual([
      'line 1: not a valid Strata entry (ns: must be 1-256 characters long); skipped',
      'line 2: not a valid Strata entry (ns: must be 1-256 characters long); skipped',
      'line 3: not a valid Strata entry (meta: must be a JSON object); skipped',
    ]);
    expect(result.out).toContain('rejected: 3 (lines 1, 2, 3)');
    expect(sqliteRows(ws)).toBe(1);
    expect(result.code).toBe(1);
  });

  it('refuses message.data: null and goes on with the next lines', async () => {
    const ws = workspace();
    const broken = line('broken', { gens: [{ text: 'x', message: { type: 'ai', data: null } }] });
    const result = await importFile(ws, [line('before'), broken, line('after')]);
    expect(result.err).toContain(
      'line 2: not a valid Strata entry (gens[0].message.data: must be a JSON object); skipped',
    );
    expect(headline(result.out)).toEqual([2, 2]);
    expect(sqliteRows(ws)).toBe(2);
    expect(result.code).toBe(1);
  });

  it('refuses generations LangChain cannot return for the model (tool calls with string arguments)', async () => {
    const ws = workspace();
    const call = { name: 'lookup', args: 'not an object', id: 'c1' };
    const unusable = line('unusable', {
      gens: [{ text: 'x', message: { type: 'ai', data: { content: 'x', tool_calls: [call] } } }],
    });
    const result = await importFile(ws, [line('before'), unusable]);
    expect(result.err.join('\n')).toContain('line 2: generations LangChain cannot return for this model');
    expect(sqliteRows(ws)).toBe(1);
    expect(result.code).toBe(1);
  });

  it('reports a line longer than --max-line-bytes and imports the lines around it', async () => {
    const ws = workspace();
    const file = join(ws.dir, 'huge.jsonl');
    const fd = openSync(file, 'w');
    writeSync(fd, `${line('before')}\n{"v":1,"k":"`);
    const mib = Buffer.alloc(1024 * 1024, 'x');
    for (let i = 0; i < 80; i++) writeSync(fd, mib);
    writeSync(fd, `"}\n${line('after')}\n`);
    closeSync(fd);
    const hugeBytes = 80 * 1024 * 1024 + '{"v":1,"k":"'.length + 2;

    const result = await cli('import', '--config', ws.config, '--file', file, '--max-line-bytes', '1M');
    expect(result.err).toContain(
      `line 2: refused (${hugeBytes} bytes, longer than --max-line-bytes 1048576); skipped`,
    );
    expect(headline(result.out)).toEqual([2, 2]);
    expect(result.out).toContain('rejected: 1 (line 2)');
    expect(sqliteRows(ws)).toBe(2);
    expect(result.code).toBe(1);
  });

  it('lists the first 50 reasons and 20 line numbers, and counts every rejected line', async () => {
    const ws = workspace();
    const result = await importFile(ws, [...Array.from({ length: 60 }, () => '{"v":1}'), line('ok')]);
    expect(result.err.filter((l) => /^line \d+: /.test(l))).toHaveLength(50);
    expect(result.err).toContain('... and 10 more rejected lines (reasons not listed)');
    const numbers = Array.from({ length: 20 }, (_, i) => i + 1).join(', ');
    expect(result.out).toContain(`rejected: 60 (lines ${numbers}, ...)`);
    expect(headline(result.out)).toEqual([1, 1]);
  });

  it('rejects a malformed --max-line-bytes before opening the cache', async () => {
    const ws = workspace();
    for (const bad of ['0', 'lots', '12X', '1.5M']) {
      const result = await importFile(ws, [line('x')], '--max-line-bytes', bad);
      expect(result.code).toBe(2);
      expect(result.err[0]).toMatch(/^strata import: --max-line-bytes must be a byte count/);
    }
  });

  it('skips expired lines and counts them', async () => {
    const ws = workspace();
    const past = Date.now() - 60_000;
    const result = await importFile(ws, [
      line('old', { createdAt: past - 1000, expiresAt: past }),
      line('fresh'),
    ]);
    expect(result.code).toBe(0);
    expect(counted(result.out, 'expired')).toBe(1);
    expect(headline(result.out)).toEqual([1, 1]);
    expect(sqliteRows(ws)).toBe(1);
  });

  it('reports JSON errors and bytes that are not UTF-8 by line number', async () => {
    const ws = workspace();
    const file = join(ws.dir, 'mixed.jsonl');
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from('not json\n'),
        Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
        Buffer.from(`${line('fine')}\r\n`),
      ]),
    );
    const result = await cli('import', '--config', ws.config, '--file', file);
    expect(result.err[0]).toMatch(/^line 1: not a valid Strata entry \(not JSON: /);
    expect(result.err[1]).toBe('line 2: not a valid Strata entry (not UTF-8 text); skipped');
    expect(headline(result.out)).toEqual([1, 1]);
    expect(result.code).toBe(1);
  });

  it('round trip with storePrompt: false needs --trust-hashes and reproduces every entry', async () => {
    const src = workspace({ config: { storePrompt: false } });
    const cache = await createCache(loadConfig(src.config));
    const model = new SimulatedChatModel({
      cache: cache.withOptions({ tags: ['faq'], ttlSeconds: 3600 }),
      apiKey: 'sk-test-abcdefghijklmnopqrstuv',
    });
    for (const p of ['first 一', 'second 🚀']) await model.invoke(p);
    await cache.close();
    const dump = join(src.dir, 'dump.jsonl');
    expect((await cli('export', '--config', src.config, '--file', dump)).code).toBe(0);

    const dst = workspace({ config: { storePrompt: false } });
    const refused = await cli('import', '--config', dst.config, '--file', dump);
    expect(refused.code).toBe(1);
    expect(counted(refused.out, 'rejected')).toBe(2);
    const trusted = await cli('import', '--config', dst.config, '--file', dump, '--trust-hashes');
    expect(trusted.code).toBe(0);
    const again = join(dst.dir, 'again.jsonl');
    expect((await cli('export', '--config', dst.config, '--file', again)).code).toBe(0);
    expect(readFileSync(again, 'utf8')).toBe(readFileSync(dump, 'utf8'));
  });
});

describe('readLines', () => {
  async function collect(chunks: Iterable<Buffer | string> | AsyncIterable<Buffer | string>, max: number) {
    const lines = [];
    for await (const l of readLines(chunks as AsyncIterable<Buffer | string>, max)) lines.push(l);
    return lines;
  }

  it('splits LF and CRLF lines across chunk boundaries and keeps a last line without newline', async () => {
    const lines = await collect(['ab', 'c\r\nde', '\n\n', 'f€'.slice(0, 1), Buffer.from('€g')], 10);
    expect(lines).toEqual([
      { no: 1, text: 'abc' },
      { no: 2, text: 'de' },
      { no: 3, text: '' },
      { no: 4, text: 'f€g' },
    ]);
  });

  it('decodes a multi-byte character split between chunks', async () => {
    const euro = Buffer.from('€\n');
    expect(await collect([euro.subarray(0, 1), euro.subarray(1)], 3)).toEqual([{ no: 1, text: '€' }]);
  });

  it('keeps a line of exactly the cap and drops one byte more', async () => {
    expect(await collect(['12345\n123456\n'], 5)).toEqual([
      { no: 1, text: '12345' },
      { no: 2, tooLong: 6 },
    ]);
  });

  it('skips a 600 MiB line while holding no more than the cap (one reused 1 MiB chunk)', async () => {
    const mib = Buffer.alloc(1024 * 1024, 'x');
    async function* source() {
      yield Buffer.from('first\n');
      for (let i = 0; i < 600; i++) yield mib;
      yield Buffer.from('\nlast');
    }
    expect(await collect(source(), 64 * 1024)).toEqual([
      { no: 1, text: 'first' },
      { no: 2, tooLong: 600 * 1024 * 1024 },
      { no: 3, text: 'last' },
    ]);
  });
});
