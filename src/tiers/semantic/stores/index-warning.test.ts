import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCache } from '../../../langchain/create.js';

/** A dense embedder with no model: character trigrams hashed into 384 signed dimensions. */
const trigrams = (text: string): number[] => {
  const v = new Array<number>(384).fill(0);
  const s = ` ${text.toLowerCase()} `;
  for (let i = 0; i + 3 <= s.length; i++) {
    let h = 2166136261;
    for (let j = i; j < i + 3; j++) h = Math.imul(h ^ s.charCodeAt(j), 16777619);
    v[(h >>> 0) % 384]! += (h >>> 8) & 1 ? 1 : -1;
  }
  return v;
};
const embeddings = {
  embedDocuments: async (texts: string[]) => texts.map(trigrams),
  embedQuery: async (text: string) => trigrams(text),
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('a saved index the store refuses at open', () => {
  it("is said through the cache's logger, and every stored question is answered again", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-index-warn-'));
    dirs.push(dir);
    const open = (name: string, warnings: string[] = []) =>
      createCache(
        { tiers: [{ type: 'semantic', embeddings, path: join(dir, name), threshold: 0.95 }] },
        { logger: { warn: (m) => warnings.push(m) } },
      );
    // Enough entries for the index to be saved as a file of its own (1 MiB and more).
    const fill = async (name: string, prefix: string) => {
      const cache = await open(name);
      for (let i = 0; i < 2_100; i++)
        await cache.update(`${prefix} question ${i} about invoices`, 'model:"m"', [
          { text: `${prefix} ${i}` },
        ]);
      await cache.close();
    };
    await fill('a.db', 'alpha');
    await fill('b.db', 'beta');
    const indexOf = (name: string) => readdirSync(dir).find((f) => f.startsWith(`${name}.index-`));
    expect(indexOf('a.db')).toBeDefined();
    copyFileSync(join(dir, indexOf('b.db')!), join(dir, indexOf('a.db')!));

    const warnings: string[] = [];
    const cache = await open('a.db', warnings);
    expect(warnings.filter((w) => w.includes('saved index not used'))).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\[strata\] tier semantic: /);
    for (const i of [0, 777, 2_099])
      expect(await cache.lookup(`alpha question ${i} about invoices`, 'model:"m"')).toEqual([
        { text: `alpha ${i}` },
      ]);
    await cache.close();
  }, 120_000);
});
