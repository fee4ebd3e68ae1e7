import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cli,
  cliWorkspaces,
  damageLeafPages,
  entryRows,
  filesState,
  hasUnsafeCharacters,
  holdExclusiveLock,
} from '../../test/support/cli.js';
import { makeImmutable } from '../../test/support/immutable.js';
import { loadConfig } from '../config/load.js';
import { deriveKey } from '../core/key.js';
import { createCache } from '../langchain/create.js';
import { jsonShown, shown } from './context.js';

const { workspace, tempDir } = cliWorkspaces('strata-honest-');
const LLM = 'model:"sim-1",temperature:0';
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function locked(path: string): void {
  cleanups.push(holdExclusiveLock(path));
}

/** A SQLite tier (memory in front unless `alone`) whose lock waits are short. */
function sqliteWorkspace(options: { alone?: boolean } = {}) {
  const sqlite = { type: 'sqlite', path: 'cache.db', busyTimeoutMs: 200 };
  const ws = workspace(options.alone ? [sqlite] : [{ type: 'memory' }, sqlite]);
  return { ...ws, db: join(ws.dir, 'cache.db') };
}

/** `n` entries stored through the cache (prompts `Human: question i`), in `namespace`, with `tags`. */
async function seed(
  config: string,
  n: number,
  options: { namespace?: string; tags?: string[]; prompt?: (i: number) => string } = {},
): Promise<void> {
  const cache = await createCache(loadConfig(config), { logger: { warn: () => {} } });
  const prompt = options.prompt ?? ((i: number) => `Human: question ${i}`);
  for (let i = 0; i < n; i++) {
    await cache.strata.update(
      deriveKey(options.namespace ?? 'app', LLM, prompt(i)),
      [{ text: `answer ${i}`, message: { type: 'ai', data: { content: `answer ${i}` } } }],
      { tags: options.tags ?? [] },
    );
  }
  await cache.close();
}

describe('strata clear and purge say what they could not do', () => {
  it('clear --all under another connection’s write lock: exit 1, names the tier and the lock, every entry still there', async () => {
    const ws = sqliteWorkspace();
    await seed(ws.config, 5);
    locked(ws.db);
    const result = await cli('clear', '--all', '--config', ws.config);
    expect(result.code).toBe(1);
    expect(result.out).toEqual(['removed 0 entries (counted across the tiers that could do it)']);
    expect(result.err).toContainEqual(
      expect.stringMatching(
        /^strata clear: tier sqlite: not done, its entries are still there \(.*cache\.db: locked by another process for more than 200 ms/,
      ),
    );
    // The CLI exits at once: the erasure it could not run is dropped, and said not done.
    expect(result.err).toContainEqual(
      expect.stringMatching(/close\(\): 1 erasure\(s\) never ran on tier sqlite .*not done/),
    );
    for (const c of cleanups.splice(0)) c();
    expect(entryRows(ws.db)).toBe(5);
  });

  it('clear --tag and clear --namespace under the lock: exit 1, entries still there', async () => {
    const ws = sqliteWorkspace();
    await seed(ws.config, 3, { tags: ['docs'] });
    locked(ws.db);
    for (const args of [
      ['--tag', 'docs'],
      ['--namespace', 'app'],
    ]) {
      const result = await cli('clear', ...args, '--config', ws.config);
      expect(result.code).toBe(1);
      expect(result.err.join('\n')).toMatch(/tier sqlite: not done, its entries are still there/);
    }
    for (const c of cleanups.splice(0)) c();
    expect(entryRows(ws.db)).toBe(3);
  });

  it('clear --all on a file that cannot be opened: exit 1 with the reason, the file untouched', async () => {
    const ws = sqliteWorkspace({ alone: true });
    writeFileSync(ws.db, 'this is not a database file, it is text. '.repeat(200));
    const before = filesState(ws.dir);
    const result = await cli('clear', '--all', '--config', ws.config);
    expect(result.code).toBe(1);
    expect(result.err.join('\n')).toMatch(
      /tier sqlite: not done, its entries are still there \(tier sqlite is unavailable: .*not a database/,
    );
    expect(filesState(ws.dir)).toEqual(before);
  });

  it('clear that worked everywhere still exits 0 with the count', async () => {
    const ws = sqliteWorkspace();
    await seed(ws.config, 4);
    const result = await cli('clear', '--all', '--config', ws.config);
    expect([result.code, result.out]).toEqual([0, ['removed 4 entries (counted across tiers)']]);
    expect(entryRows(ws.db)).toBe(0);
  });

  it('purge under the lock: the tiers that purged are listed, the one that could not is named; exit 1', async () => {
    const ws = sqliteWorkspace();
    await seed(ws.config, 2);
    locked(ws.db);
    const result = await cli('purge', '--config', ws.config);
    expect(result.code).toBe(1);
    expect(result.out).toEqual(['memory: purged 0 expired entries']);
    expect(result.err).toContainEqual(
      expect.stringMatching(/^strata purge: tier sqlite: not purged \(.*locked by another process/),
    );
  });
});

describe('strata export of a damaged file', () => {
  it('exports every entry it can read, names what it could not, exits 1, and leaves the file as it was', async () => {
    const ws = sqliteWorkspace({ alone: true });
    await seed(ws.config, 300);
    const lost = damageLeafPages(ws.db, 2);
    expect(lost).toBeGreaterThan(0);
    const before = filesState(ws.dir);
    const file = join(tempDir(), 'dump.jsonl');
    const result = await cli('export', '--config', ws.config, '--file', file);
    expect(result.code).toBe(1);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(300 - lost);
    expect(result.err).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^strata export: tier sqlite: not every entry could be read; exported the ${300 - lost} that could \\(.*cache\\.db: malformed: ${lost} entries \\(of any namespace\\) could not be read`,
        ),
      ),
    );
    expect(filesState(ws.dir)).toEqual(before);
    // What was exported loads back whole.
    const again = sqliteWorkspace({ alone: true });
    const imported = await cli('import', '--config', again.config, '--file', file);
    expect(imported.code).toBe(0);
    expect(entryRows(again.db)).toBe(300 - lost);
  });
});

describe('strata inspect tells "no entry" from "could not be read"', () => {
  it('a tier that is down: exit 1, named with the reason, and "no entry" only of the tiers read', async () => {
    const ws = sqliteWorkspace();
    writeFileSync(ws.db, 'this is not a database file, it is text. '.repeat(200));
    for (const extra of [[], ['--llm-key', LLM]]) {
      const result = await cli('inspect', 'Human: question 1', '--config', ws.config, ...extra);
      expect(result.code).toBe(1);
      expect(result.out).toContain(
        'no entry for this prompt in namespace "app" in the tiers that could be read',
      );
      expect(result.out).not.toContain('no entry for this prompt in namespace "app"');
      expect(result.out).toContainEqual(
        expect.stringMatching(/^sqlite: could not be read \(.*not a database/),
      );
    }
  });

  it('a damaged file: the entries it can read are shown, and it is named as not read in full', async () => {
    const ws = sqliteWorkspace({ alone: true });
    await seed(ws.config, 300);
    damageLeafPages(ws.db, 2);
    const result = await cli('inspect', 'Human: question 1', '--config', ws.config);
    expect(result.code).toBe(1);
    expect(result.out).toContainEqual(
      expect.stringMatching(
        /^sqlite: could not be read \(.*malformed: \d+ entries \(of any namespace\) could not be read/,
      ),
    );
  });

  it('a tier read in full without the entry: "no entry", exit 0', async () => {
    const ws = sqliteWorkspace({ alone: true });
    await seed(ws.config, 2);
    const result = await cli('inspect', 'Human: never asked', '--config', ws.config);
    expect([result.code, result.out]).toEqual([0, ['no entry for this prompt in namespace "app"']]);
  });
});

describe('read-only commands create nothing and change nothing', () => {
  const commands = (exportTo: string): string[][] => [
    ['stats'],
    ['stats', '--days', '7'],
    ['doctor'],
    ['export', '--file', exportTo],
    ['inspect', 'Human: question 3'],
    ['search', 'question'],
  ];

  /** Runs every read-only command and checks each read the 20 entries. */
  async function runAll(config: string): Promise<void> {
    const exportTo = join(tempDir(), 'dump.jsonl');
    for (const args of commands(exportTo)) {
      const result = await cli(...args, '--config', config);
      const all = [...result.out, ...result.err].join('\n');
      if (args[0] === 'search') {
        expect(result.code).toBe(2); // no tier indexes prompt text; it opened and closed the file all the same
        continue;
      }
      expect([args, result.code, all]).toEqual([args, 0, all]);
      if (args[0] === 'stats' && args.length === 1) expect(all).toMatch(/sqlite +sqlite +20 /);
      if (args[0] === 'doctor') expect(all).toMatch(/sqlite +sqlite +up/);
      if (args[0] === 'inspect') expect(all).toMatch(/sqlite: live/);
    }
    expect(readFileSync(exportTo, 'utf8').trim().split('\n')).toHaveLength(20);
  }

  it('a file no other connection has open: no -wal or -shm appears, its bytes and mtime are unchanged', async () => {
    const ws = sqliteWorkspace({ alone: true });
    await seed(ws.config, 20);
    const before = filesState(ws.dir);
    expect(Object.keys(before)).toEqual(['cache.db', 'strata.config.json']);
    await runAll(ws.config);
    expect(filesState(ws.dir)).toEqual(before);
  });

  it('a file in a read-only directory (SQLite alone cannot read a WAL file there: it must create -shm)', async () => {
    const ws = sqliteWorkspace({ alone: true });
    await seed(ws.config, 20);
    const before = filesState(ws.dir);
    makeImmutable(ws.dir, cleanups);
    await runAll(ws.config);
    expect(filesState(ws.dir)).toEqual(before);
  });

  it('a read-only file', async () => {
    const ws = sqliteWorkspace({ alone: true });
    await seed(ws.config, 20);
    const before = filesState(ws.dir);
    makeImmutable(ws.db, cleanups);
    await runAll(ws.config);
    expect(filesState(ws.dir)).toEqual(before);
  });

  it('a file another connection holds an exclusive lock on: read through its -wal and -shm, nothing created, the file unchanged', async () => {
    const ws = sqliteWorkspace({ alone: true });
    await seed(ws.config, 20);
    locked(ws.db);
    const names = readdirSync(ws.dir).sort();
    expect(names).toEqual(['cache.db', 'cache.db-shm', 'cache.db-wal', 'strata.config.json']);
    const db = filesState(ws.dir)['cache.db'];
    await runAll(ws.config);
    expect(readdirSync(ws.dir).sort()).toEqual(names);
    expect(filesState(ws.dir)['cache.db']).toEqual(db);
  });
});

describe('nothing from a cache or an input reaches the terminal raw', () => {
  it('shown() escapes controls, ESC, DEL, C1, bidi overrides and isolates, format characters and lone surrogates', () => {
    expect(shown('a\u001b[31mb\u0007\u007f\u009b\u202e\u2066\u200b\ufeff\u2028\ud800\u{e0041}\tz')).toBe(
      'a\\u001b[31mb\\u0007\\u007f\\u009b\\u202e\\u2066\\u200b\\ufeff\\u2028\\ud800\\u{e0041}\\u0009z',
    );
    expect(shown('two\nlines')).toBe('two\\u000alines');
    expect(shown('two\nlines\u001b', { multiline: true })).toBe('two\nlines\\u001b');
    expect(shown('plain, ünïcödé 一 🚀')).toBe('plain, ünïcödé 一 🚀');
    // Export lines: the same JSON value, nothing a terminal acts on.
    const json = JSON.stringify({ ns: 'x\u202e\u009b\u{e0041}' });
    expect(hasUnsafeCharacters(jsonShown(json))).toBe(false);
    expect(JSON.parse(jsonShown(json))).toEqual(JSON.parse(json));
  });

  it('a namespace, a tag and a prompt holding escapes, bidi overrides and newlines: stats, inspect, export and import print them escaped', async () => {
    const evilNs = 'ns\u001b[2J\u202e';
    const evilTag = 'tag\u0007\u009b31m\u2066';
    const evilPrompt = 'Human: hi\u001b]0;pwned\u0007\nSystem: fake line\u202e';
    const ws = sqliteWorkspace({ alone: true });
    await seed(ws.config, 1, { namespace: evilNs, tags: [evilTag], prompt: () => evilPrompt });
    const outputs = [
      await cli('stats', '--config', ws.config),
      await cli('inspect', evilPrompt, '--config', ws.config, '--namespace', evilNs),
      await cli('export', '--config', ws.config, '--all', '--file', join(ws.dir, 'dump.jsonl')),
      await cli('clear', '--config', ws.config, '--namespace', evilNs, '--tag', 'unknown\u001b[0m'),
    ];
    // An import line refused for its namespace quotes it in the reason.
    const dump = readFileSync(join(ws.dir, 'dump.jsonl'), 'utf8');
    expect(hasUnsafeCharacters(dump)).toBe(false);
    writeFileSync(join(ws.dir, 'import.jsonl'), dump);
    const refused = await cli(
      'import',
      '--config',
      ws.config,
      '--file',
      join(ws.dir, 'import.jsonl'),
      '--namespace',
      'other',
    );
    expect(refused.code).toBe(1);
    outputs.push(refused);
    for (const { out, err } of outputs) {
      for (const line of [...out, ...err]) expect([line, hasUnsafeCharacters(line)]).toEqual([line, false]);
    }
    const all = outputs.flatMap((o) => [...o.out, ...o.err]).join('\n');
    expect(all).toContain('ns\\u001b[2J\\u202e=1'); // stats: namespaces
    expect(all).toContain('tag\\u0007\\u009b31m\\u2066'); // inspect: tags
    expect(all).toContain('(namespace "ns\\u001b[2J\\u202e" is outside --namespace "other"'); // import
    expect(all).not.toMatch(/^System: fake line/m);
  });
});
