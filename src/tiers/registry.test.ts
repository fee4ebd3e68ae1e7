/**
 * The registry is the one list of tiers: outside a tier's own folder only src/tiers/registry.ts
 * imports from it, and a tier imports no other tier's folder (shared helpers live in kit/). So a
 * new built-in tier is its folder plus one line in the registry.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_TIERS } from './registry.js';

const SRC = resolve(import.meta.dirname, '..');
const TIERS = join(SRC, 'tiers');
const folders = readdirSync(TIERS, { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== 'kit')
  .map((e) => e.name);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The tier folder a path lies in, if any. */
function tierFolderOf(path: string): string | undefined {
  const [first, second] = relative(TIERS, path).split(sep);
  return first !== '..' && second !== undefined && folders.includes(first!) ? first : undefined;
}

/** Every relative module a source file imports, statically or dynamically, resolved. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)'(\.[^']*)'/g)];
  return specifiers.map((m) => resolve(dirname(file), m[1]!));
}

describe('the tier registry', () => {
  it('lists one definition per tier folder, by the folder name', () => {
    expect(BUILTIN_TIERS.map((d) => d.type).sort()).toEqual([...folders].sort());
  });

  it('is the only file outside a tier folder that imports from one', () => {
    const offences: string[] = [];
    for (const file of sources(SRC)) {
      const own = tierFolderOf(file);
      if (file === join(TIERS, 'registry.ts')) continue;
      for (const target of importsOf(file)) {
        const folder = tierFolderOf(target);
        if (folder !== undefined && folder !== own) {
          offences.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
        }
      }
    }
    expect(offences).toEqual([]);
  });

  it('finds an import of a tier folder (the scan can fail)', () => {
    const probe = join(SRC, 'core', 'probe.ts');
    const target = resolve(dirname(probe), '../tiers/sqlite/index.js');
    expect(tierFolderOf(target)).toBe('sqlite');
    expect(tierFolderOf(probe)).toBeUndefined();
    expect(importsOf(join(TIERS, 'registry.ts')).map(tierFolderOf).sort()).toEqual([...folders].sort());
  });
});
