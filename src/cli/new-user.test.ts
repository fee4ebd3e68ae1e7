/**
 * What a new user met running the packed CLI: `stats` that exits 0 beside a tier it could not
 * read, `stats --days` blaming the config for a SQLite file that is down, raw stack traces for
 * an unwritable `export --file` and for `| head`, `clear` and `purge` that create a database at a
 * mistyped path, an `import` headline that counted what only memory kept, "will be retried" in
 * commands that exit at once, and `npx strata` outside a project.
 */
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, cliWorkspaces, holdExclusiveLock } from '../../test/support/cli.js';
import { spawnTs } from '../../test/support/run-ts.js';
import { loadConfig } from '../config/load.js';
import { deriveKey, hashKey } from '../core/key.js';
import { createCache } from '../langchain/create.js';

const { workspace, tempDir } = cliWorkspaces('strata-new-user-');
const LLM = 'model:"sim-1",temperature:0';
const NOT_A_DATABASE = 'this is not a database file, it is text. '.repeat(200);
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** Memory in front of SQLite at `path` (relative to the config's folder), whose lock waits are short. */
function sqliteWorkspace(path = 'cache.db', options: { alone?: boolean } = {}) {
  const sqlite = { type: 'sqlite', path, busyTimeoutMs: 200 };
  const ws = workspace(options.alone ? [sqlite] : [{ type: 'memory' }, sqlite]);
  return { ...ws, db: join(ws.dir, path) };
}

/** `n` entries stored through the cache, each then looked up once (a hit, for the daily statistics). */
async function seed(config: string, n: number): Promise<void> {
  const cache = await createCache(loadConfig(config), { logger: { warn: () => {} } });
  for (let i = 0; i < n; i++) {
    const key = deriveKey('app', LLM, `Human: question ${i}`);
    await cache.strata.update(
      key,
      [{ text: `answer ${i}`, message: { type: 'ai', data: { content: `answer ${i}` } } }],
      { tags: [] },
    );
    await cache.strata.lookup(key);
  }
  await cache.close();
}

function all(result: { out: string[]; err: string[] }): string {
  return [...result.out, ...result.err].join('\n');
}

describe('strata stats says when a tier could not be read', () => {
  it('a file that is not a database: exit 1, the tier named with the reason (text and --json)', async () => {
    const ws = sqliteWorkspace();
    writeFileSync(ws.db, NOT_A_DATABASE);
    const text = await cli('stats', '--config', ws.config);
    expect(text.code).toBe(1);
    expect(text.out.join('\n')).toMatch(/sqlite +sqlite +\? +\?/);
    expect(text.err).toContainEqual(
      expect.stringMatching(/^strata stats: tier sqlite could not be read \(it is down: .*not a database/),
    );
    const json = await cli('stats', '--json', '--config', ws.config);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out.join('\n')).tiers).toHaveLength(2);
    expect(json.err).toContainEqual(expect.stringMatching(/^strata stats: tier sqlite could not be read/));
  });

  it('--days with a SQLite tier that is down: names it as unread (it keeps daily statistics), exit 1', async () => {
    const ws = sqliteWorkspace();
    writeFileSync(ws.db, NOT_A_DATABASE);
    for (const extra of [[], ['--json']]) {
      const result = await cli('stats', '--days', '7', '--config', ws.config, ...extra);
      expect(result.code).toBe(1);
      expect(all(result)).not.toMatch(/none of the configured tiers/);
      expect(result.err).toContainEqual(
        expect.stringMatching(
          /^strata stats: tier sqlite keeps daily statistics but could not be read \(it is down: .*not a database/,
        ),
      );
    }
  });

  it('--days reads what SQLite persisted; without a tier that keeps them it says which do', async () => {
    const ws = sqliteWorkspace('cache.db', { alone: true });
    await seed(ws.config, 3);
    const days = await cli('stats', '--days', '7', '--config', ws.config);
    expect(days.code).toBe(0);
    expect(days.out.join('\n')).toMatch(/sqlite +3 +0 +100\.0%/);
    const memory = workspace([{ type: 'memory' }]);
    const none = await cli('stats', '--days', '7', '--config', memory.config);
    expect(none.code).toBe(0);
    expect(none.out).toEqual([
      'no daily statistics: none of the configured tiers keeps them (sqlite, mysql and postgres tiers do)',
    ]);
  });
});

describe('strata export --file that cannot be written', () => {
  it('a missing directory, a directory, a path under a file: one line naming the path and the reason, exit 1', async () => {
    const ws = sqliteWorkspace();
    await seed(ws.config, 3);
    const dir = tempDir();
    writeFileSync(join(dir, 'plain'), 'x');
    for (const [file, reason] of [
      [join(dir, 'no-such-dir', 'x.jsonl'), 'no such file or directory'],
      [dir, 'illegal operation on a directory'],
      [join(dir, 'plain', 'x.jsonl'), 'not a directory'],
    ] as const) {
      const result = await cli('export', '--all', '--config', ws.config, '--file', file);
      expect([file, result.code]).toEqual([file, 1]);
      expect(result.out).toEqual([]);
      expect(result.err).toEqual([`strata export: cannot write ${file}: ${reason}; nothing exported`]);
    }
    expect(readdirSync(dir)).toEqual(['plain']);
  });

  it('a write that fails midway (a full disk): says so, claims no export, exit 1', async () => {
    if (!existsSync('/dev/full')) return;
    const ws = sqliteWorkspace();
    await seed(ws.config, 3);
    const result = await cli('export', '--all', '--config', ws.config, '--file', '/dev/full');
    expect(result.code).toBe(1);
    expect(result.err).toEqual([
      'strata export: cannot write /dev/full: no space left on device; the export is incomplete',
    ]);
  });
});

describe('a closed pipe ends a command quietly', () => {
  /** The CLI in a child process whose stdout reader is gone before it writes: `strata ... | head -0`. */
  async function closedPipe(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const child = spawnTs(join(import.meta.dirname, 'main.ts'), args);
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, stderr };
  }

  it('inspect, export and stats: no stack trace, no message, status 141 (as a command SIGPIPE ended)', async () => {
    const ws = sqliteWorkspace('cache.db', { alone: true });
    await seed(ws.config, 300);
    for (const args of [['inspect', 'Human: question 1'], ['export', '--all'], ['stats']]) {
      const result = await closedPipe([...args, '--config', ws.config]);
      expect([args, result]).toEqual([args, { code: 141, stderr: '' }]);
    }
  });
});

describe('commands that only read or erase never create a cache', () => {
  const commands = [
    ['clear', '--all'],
    ['clear', '--namespace', 'app'],
    ['purge'],
    ['stats'],
    ['stats', '--days', '7'],
    ['doctor'],
    ['export', '--all'],
    ['inspect', 'Human: question 1'],
    ['search', 'question'],
  ];

  it('a mistyped sqlite.path: "<path>: no such cache file", exit 1, no directory or file created', async () => {
    const ws = sqliteWorkspace('data/cache.db');
    for (const args of commands) {
      const result = await cli(
        ...args,
        '--config',
        ws.config,
        ...(args[0] === 'export' ? ['--file', join(tempDir(), 'x')] : []),
      );
      expect([args, result.code]).toEqual([args, 1]);
      expect([args, result.err]).toEqual([
        args,
        [`strata ${args[0]}: ${ws.db}: no such cache file (tier sqlite); nothing was opened or created`],
      ]);
      expect(result.out).toEqual([]);
      expect(readdirSync(ws.dir)).toEqual(['strata.config.json']);
    }
  });

  it('an existing file and a :memory: path are used as before', async () => {
    const memory = workspace([{ type: 'sqlite', path: ':memory:' }]);
    expect(await cli('clear', '--all', '--config', memory.config)).toEqual({
      code: 0,
      out: ['removed 0 entries (counted across tiers)'],
      err: [],
    });
    const ws = sqliteWorkspace();
    await seed(ws.config, 2);
    expect((await cli('clear', '--all', '--config', ws.config)).out).toEqual([
      'removed 2 entries (counted across tiers)',
    ]);
  });

  it('import and demo still create the cache they are pointed at', async () => {
    const ws = sqliteWorkspace('data/cache.db');
    const file = join(tempDir(), 'in.jsonl');
    writeFileSync(file, '');
    expect((await cli('import', '--config', ws.config, '--file', file)).code).toBe(0);
    expect(existsSync(ws.db)).toBe(true);
  });
});

describe('strata import: the headline counts what outlives the command', () => {
  function line(prompt: string): string {
    return JSON.stringify({
      v: 1,
      k: hashKey('app', LLM, prompt),
      ns: 'app',
      createdAt: Date.now(),
      expiresAt: null,
      tags: [],
      gens: [
        { text: `answer to ${prompt}`, message: { type: 'ai', data: { content: `answer to ${prompt}` } } },
      ],
      llm: LLM,
      prompt,
    });
  }

  function importFile(ws: { dir: string; config: string }, lines: string[]) {
    const file = join(ws.dir, 'import.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return cli('import', '--config', ws.config, '--file', file);
  }

  it('under another process’s write lock: "stored: 0 of 50 lines", memory marked process-local, exit 1', async () => {
    const ws = sqliteWorkspace();
    expect((await importFile(ws, [])).code).toBe(0); // creates the database
    cleanups.push(holdExclusiveLock(ws.db));
    const result = await importFile(
      ws,
      Array.from({ length: 50 }, (_, i) => line(`question ${i}`)),
    );
    expect(result.code).toBe(1);
    expect(result.out[1]).toMatch(
      /^stored: 0 of 50 lines \(memory: 50, process-local; sqlite: 0 — .*locked by another process/,
    );
    expect(all(result)).not.toMatch(/imported: 50/);
    expect(result.err).toContain('lines read: 50 done');
  });

  it('every tier stored every line: "stored: 2 of 2 lines", exit 0', async () => {
    const ws = sqliteWorkspace();
    const result = await importFile(ws, [line('one'), line('two')]);
    expect(result.code).toBe(0);
    expect(result.out.slice(0, 2)).toEqual([
      'read: 2 lines',
      'stored: 2 of 2 lines (memory: 2, process-local; sqlite: 2)',
    ]);
  });

  it('memory alone: nothing outlives the command, and the headline says so', async () => {
    const ws = workspace([{ type: 'memory' }]);
    const result = await importFile(ws, [line('one')]);
    expect(result.code).toBe(0);
    expect(result.out[1]).toBe(
      'stored: 1 of 1 lines (memory: 1, process-local; no configured tier outlives this command)',
    );
  });
});

describe('one-shot commands do not promise retries', () => {
  it('a tier that cannot be opened "is down: <reason>", never "will be retried"', async () => {
    const ws = sqliteWorkspace();
    writeFileSync(ws.db, NOT_A_DATABASE);
    const outputs = [
      await cli('stats', '--config', ws.config),
      await cli('inspect', 'Human: question 1', '--config', ws.config),
      await cli('doctor', '--config', ws.config),
      await cli('export', '--config', ws.config, '--file', join(tempDir(), 'x')),
      await cli('clear', '--all', '--config', ws.config),
      await cli('purge', '--config', ws.config),
    ];
    for (const result of outputs) {
      expect(all(result)).not.toMatch(/retried|retry/);
    }
    expect(outputs[0]!.err).toContainEqual(
      expect.stringMatching(/^\[strata\] tier sqlite is down: .*cache\.db: not a database/),
    );
  });
});

describe('npx strata-cache', () => {
  it('package.json names a second bin, strata-cache, for the same file; the README says to use it', () => {
    const root = join(import.meta.dirname, '..', '..');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(pkg.bin).toEqual({ strata: './dist/cli/main.js', 'strata-cache': './dist/cli/main.js' });
    const section = readFileSync(join(root, 'docs', 'cli.md'), 'utf8');
    expect(section).toMatch(/`npx strata-cache <command>`/);
  });
});
