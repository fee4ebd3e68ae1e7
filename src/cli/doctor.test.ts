/** `strata doctor` and `strata stats` on SQLite files that are damaged, missing or must not be changed. */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cli, cliWorkspaces } from '../../test/support/cli.js';
import { createCache } from '../langchain/create.js';

const { workspace } = cliWorkspaces('strata-doctor-');

/** A Strata SQLite file with `n` entries, closed (its WAL folded into the file). */
async function seeded(path: string, n: number): Promise<void> {
  const cache = await createCache({ tiers: [{ type: 'sqlite', path }] });
  for (let i = 0; i < n; i++)
    await cache.update(`prompt ${i}`, 'llm', [{ text: `answer ${i} ${'x'.repeat(300)}` }]);
  await cache.close();
}

function digest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('strata doctor and stats on SQLite', () => {
  it('doctor reports a file that is not a database as down with the reason, the other tiers up (exit 1, not 2)', async () => {
    const ws = workspace([{ type: 'memory' }, { type: 'sqlite', path: 'broken.db' }]);
    writeFileSync(join(ws.dir, 'broken.db'), 'this is not a database file, it is text'.repeat(200));
    const result = await cli('doctor', '--config', ws.config);
    expect(result.code).toBe(1);
    const out = result.out.join('\n');
    expect(out).toMatch(/memory +memory +up/);
    expect(out).toMatch(/sqlite +sqlite +down +\S+ +.*broken\.db: not a database/);
    expect(out).toMatch(/overall: degraded/);
  });

  it('doctor runs an integrity check: a file that opens but has damaged pages is reported malformed', async () => {
    const ws = workspace([{ type: 'memory' }, { type: 'sqlite', path: 'cache.db' }]);
    const path = join(ws.dir, 'cache.db');
    await seeded(path, 1_000);
    expect((await cli('doctor', '--config', ws.config)).code).toBe(0);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(2_000, 0xa5), 0, 2_000, Math.floor(statSync(path).size * 0.6));
    closeSync(fd);
    const result = await cli('doctor', '--config', ws.config);
    expect(result.code).toBe(1);
    // Found by quick_check, or by the statistics query that read the damaged page first.
    expect(result.out.join('\n')).toMatch(/sqlite +sqlite +down +\S+ +.*cache\.db: malformed \(/);
  });

  it('doctor and stats create no file for a missing database and say it is missing (exit 1)', async () => {
    const ws = workspace([{ type: 'memory' }, { type: 'sqlite', path: 'data/cache.db' }]);
    for (const args of [['doctor'], ['stats'], ['stats', '--days', '7']]) {
      const result = await cli(...args, '--config', ws.config);
      expect([args, result.code]).toEqual([args, 1]);
      expect(result.err.join('\n')).toMatch(/data\/cache\.db: no such cache file \(tier sqlite\)/);
    }
    expect(readdirSync(ws.dir)).toEqual(['strata.config.json']);
  });

  it('export, inspect and search create no file for a mistyped path; each says so and fails', async () => {
    const ws = workspace([{ type: 'memory' }, { type: 'sqlite', path: 'sub/none.db' }]);
    for (const args of [['export'], ['inspect', 'hello'], ['search', 'hello']]) {
      const result = await cli(...args, '--config', ws.config);
      expect([args, result.code]).toEqual([args, 1]);
      expect(result.err.join('\n')).toMatch(/sub\/none\.db: no such cache file \(tier sqlite\)/);
    }
    expect(readdirSync(ws.dir)).toEqual(['strata.config.json']);
  });

  it('doctor and stats leave an existing file as it was', async () => {
    const ws = workspace([{ type: 'sqlite', path: 'cache.db' }]);
    const path = join(ws.dir, 'cache.db');
    await seeded(path, 20);
    const before = digest(path);
    const stats = await cli('stats', '--config', ws.config);
    expect(stats.code).toBe(0);
    expect(stats.out.join('\n')).toMatch(/sqlite +sqlite +20 /);
    expect((await cli('doctor', '--config', ws.config)).code).toBe(0);
    expect(digest(path)).toBe(before);
  });

  it('doctor reports a file written by a newer version as down and does not touch it', async () => {
    const ws = workspace([{ type: 'sqlite', path: 'cache.db' }]);
    const path = join(ws.dir, 'cache.db');
    await seeded(path, 3);
    const raw = new Database(path);
    raw.pragma('user_version = 7');
    raw.close();
    const before = digest(path);
    const result = await cli('doctor', '--config', ws.config);
    expect(result.code).toBe(1);
    expect(result.out.join('\n')).toMatch(/written by a newer version \(user_version 7 > 3\)/);
    expect(digest(path)).toBe(before);
  });
});
