import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, cliWorkspaces } from '../../test/support/cli.js';
import { runTs } from '../../test/support/run-ts.js';
import { createCache } from '../langchain/create.js';
import { SimulatedChatModel } from '../langchain/simulated-model.js';

const { workspace, tempDir } = cliWorkspaces('strata-cli-');

async function seed(config: string, prompts: string[], tags: string[] = []): Promise<void> {
  const { loadConfig } = await import('../config/load.js');
  const cache = await createCache(loadConfig(config));
  const model = new SimulatedChatModel({
    cache: cache.withOptions({ tags, ttlSeconds: 3600 }),
    apiKey: 'sk-test-abcdefghijklmnopqrstuv',
  });
  for (const p of prompts) await model.invoke(p);
  await cache.close();
}

describe('strata CLI', () => {
  it('exports and imports JSON Lines, reproducing every entry', async () => {
    const src = workspace([{ type: 'sqlite', path: 'a.db' }]);
    await seed(src.config, ['一 question 🚀', 'second question', 'third "quoted"\nmultiline'], ['faq']);
    const file = join(src.dir, 'dump.jsonl');
    const exported = await cli('export', '--config', src.config, '--file', file);
    expect(exported.code).toBe(0);
    expect(exported.err.at(-1)).toMatch(/3 done/);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);

    const dst = workspace([{ type: 'memory' }, { type: 'sqlite', path: 'b.db' }]);
    const imported = await cli('import', '--config', dst.config, '--file', file);
    expect(imported.code).toBe(0);
    const again = join(dst.dir, 'again.jsonl');
    expect((await cli('export', '--config', dst.config, '--file', again)).code).toBe(0);
    expect(readFileSync(again, 'utf8')).toBe(readFileSync(file, 'utf8'));

    const { loadConfig } = await import('../config/load.js');
    const cache = await createCache(loadConfig(dst.config));
    const model = new SimulatedChatModel({ cache, apiKey: 'sk-other-abcdefghijklmnopqrstuv' });
    await model.invoke('second question');
    expect(model.calls).toBe(0);
    await cache.close();
  });

  it('skips lines that are not valid entries and says so', async () => {
    const ws = workspace([{ type: 'memory' }]);
    const file = join(ws.dir, 'bad.jsonl');
    writeFileSync(file, '{"v":1}\nnot json\n');
    const result = await cli('import', '--config', ws.config, '--file', file);
    expect(result.code).toBe(1);
    expect(result.err.join('\n')).toMatch(/line 1: not a valid Strata entry/);
  });

  it('inspects a prompt, clears by tag and purges', async () => {
    const ws = workspace([{ type: 'sqlite', path: 'c.db' }]);
    await seed(ws.config, ['What is WAL?'], ['docs']);
    const found = await cli('inspect', 'Human: What is WAL?', '--config', ws.config);
    expect(found.out.join('\n')).toMatch(/sqlite: live[\s\S]*tags +docs[\s\S]*answer +Answer #1/);
    expect(found.out.join('\n')).not.toMatch(/sk-test/);
    // Typed without LangChain's role prefix: not found, with a hint that names the stored form.
    const bare = await cli('inspect', 'What is WAL?', '--config', ws.config);
    expect(bare.out).toEqual([
      'no entry for this prompt in namespace "app"',
      '(a chat model\'s prompt is stored as "Human: What is WAL?": try that)',
    ]);
    expect((await cli('clear', '--config', ws.config)).code).toBe(2);
    const cleared = await cli('clear', '--config', ws.config, '--tag', 'docs');
    expect(cleared.out).toEqual(['removed 1 entries (counted across tiers)']);
    expect((await cli('inspect', 'Human: What is WAL?', '--config', ws.config)).out[0]).toMatch(/no entry/);
    expect((await cli('purge', '--config', ws.config)).out).toEqual(['sqlite: purged 0 expired entries']);
  });

  it('doctor reports each tier and fails when one cannot be used', async () => {
    const ok = workspace([{ type: 'memory' }, { type: 'sqlite', path: 'ok.db' }]);
    await seed(ok.config, []); // doctor opens SQLite read-only: a missing file is reported, not created
    const healthy = await cli('doctor', '--config', ok.config);
    expect(healthy.code).toBe(0);
    expect(healthy.out.join('\n')).toMatch(/memory +memory +up[\s\S]*sqlite +sqlite +up[\s\S]*overall: up/);
    const broken = workspace([{ type: 'memory' }, { type: 'sqlite', path: 'broken.db' }]);
    writeFileSync(join(broken.dir, 'broken.db'), 'this is not a database file, it is text'.repeat(200));
    const failed = await cli('doctor', '--config', broken.config);
    expect(failed.code).toBe(1); // a damaged file is a down tier, not a config error (2)
    expect(failed.out.join('\n')).toMatch(/sqlite +sqlite +down .*not a database/);
  });

  it('doctor exits non-zero when a remote tier is down', async () => {
    const ws = workspace([{ type: 'memory' }, { type: 'redis', url: 'redis://127.0.0.1:1', timeoutMs: 300 }]);
    const result = await cli('doctor', '--config', ws.config);
    expect(result.code).toBe(1);
    expect(result.out.join('\n')).toMatch(/redis +redis +down/);
  });

  it('rejects unknown commands and invalid configs with a clear message', async () => {
    expect((await cli('frobnicate')).err[0]).toMatch(/unknown command "frobnicate"/);
    const ws = workspace([{ type: 'sqlite' }]);
    const result = await cli('stats', '--config', ws.config);
    expect(result.code).toBe(2);
    expect(result.err[0]).toMatch(/tiers\[0\]\.path/);
  });

  it('demo: a second process is served from SQLite', async () => {
    const dir = tempDir();
    const run = () =>
      runTs(join(import.meta.dirname, 'main.ts'), ['demo', '--requests', '120', '--latency', '1-3'], {
        cwd: dir,
      });
    const first = await run();
    expect(first.stdout).toMatch(/entries at start: memory 0, sqlite 0/);
    const second = await run();
    const sqliteHits = Number(/sqlite +(\d+) hits/.exec(second.stdout)?.[1]);
    expect(sqliteHits).toBeGreaterThan(0);
    expect(second.stdout).toMatch(/called the LLM +0 /);
  });
});
