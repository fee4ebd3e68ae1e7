import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { runTs } from '../../../test/support/run-ts.js';
import { createCache } from '../../langchain/create.js';

it('four processes writing 2,000 entries each to one file lose none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-mp-'));
  const path = join(dir, 'shared.db');
  try {
    const script = join(import.meta.dirname, '../../../test/support/sqlite-writer.ts');
    const outputs = await Promise.all([0, 1, 2, 3].map((w) => runTs(script, [path, String(w), '2000'])));
    for (const { stdout } of outputs) expect(JSON.parse(stdout)).toMatchObject({ failures: 0 });
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT count(*) FROM cache_entries').pluck().get()).toBe(8000);
    raw.close();
    const cache = await createCache({ tiers: [{ type: 'sqlite', path }] });
    for (const w of [0, 1, 2, 3]) {
      for (const i of [0, 777, 1999]) {
        expect((await cache.lookup(`worker ${w} prompt ${i}`, 'llm'))?.[0]?.text).toBe(`answer ${w}/${i}`);
      }
    }
    await cache.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it.each(['sqlite', 'semantic'])(
  'four processes opening the same new %s files at the same moment all open them',
  async (kind) => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-open-'));
    try {
      const script = join(import.meta.dirname, '../../../test/support/sqlite-opener.ts');
      // Far enough ahead that all four have started (tsx takes a few hundred ms under load).
      const startAt = String(Date.now() + 3_000);
      const outputs = await Promise.all(
        [0, 1, 2, 3].map(() => runTs(script, [join(dir, 'new'), startAt, '40', kind])),
      );
      for (const { stdout } of outputs) expect(JSON.parse(stdout)).toEqual({ failures: [] });
      const raw = new Database(join(dir, 'new-39.db'), { readonly: true });
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      raw.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
