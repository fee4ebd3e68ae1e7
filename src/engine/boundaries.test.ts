/**
 * The engine's boundaries, read from the source: LangChain is imported only under src/langchain,
 * nothing reaches into an adapter's internals, and the commands and the gateway that need no
 * LangChain load none (no static import chain from them reaches src/langchain or @langchain/*).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

const isTest = (path: string) => path.endsWith('.test.ts');
const rel = (path: string) => relative(ROOT, path).split('\\').join('/');

/** Module specifiers a file loads when it is loaded: static imports and re-exports, not `import type`, not `import()`. */
function staticImports(text: string): string[] {
  const found: string[] = [];
  const pattern = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(pattern)) if (!m[2]) found.push(m[3]!);
  return found;
}

/** Every file loaded, statically, when `entry` is: relative specifiers followed, packages listed. */
function loadedBy(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
      else packages.add(spec);
    }
  }
  return { files, packages };
}

describe('engine boundaries', () => {
  it('no source outside src/langchain imports @langchain/*', () => {
    const offenders = sources(SRC)
      .filter((f) => !isTest(f) && !rel(f).startsWith('src/langchain/'))
      .filter((f) => /from\s+['"]@langchain\/|import\(\s*['"]@langchain\//.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('nothing under src/engine or src/core imports from src/langchain', () => {
    const offenders = sources(SRC)
      .filter((f) => !isTest(f) && /^src\/(engine|core)\//.test(rel(f)))
      .filter((f) => /from\s+['"][./]*\/langchain\//.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('nothing under src/core imports the adapters and surfaces around it (monitor, proxy, http, cli)', () => {
    const offenders = sources(SRC)
      .filter((f) => !isTest(f) && /^src\/core\//.test(rel(f)))
      .filter((f) => /from\s+['"][./]*\/(monitor|proxy|http|cli)\//.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('nothing reaches into a cache through `.internals`', () => {
    const files = [...sources(SRC), ...sources(join(ROOT, 'test')), ...sources(join(ROOT, 'bench'))];
    const self = fileURLToPath(import.meta.url);
    const offenders = files
      .filter((f) => f !== self && /\.internals\b/.test(readFileSync(f, 'utf8')))
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it.each(['src/cli/main.ts', 'src/engine/create.ts', 'src/proxy/index.ts', 'src/monitor/index.ts'])(
    '%s loads no LangChain',
    (entry) => {
      const { files, packages } = loadedBy(join(ROOT, entry));
      expect([...files].map(rel).filter((f) => f.startsWith('src/langchain/'))).toEqual([]);
      expect([...packages].filter((p) => p.startsWith('@langchain/'))).toEqual([]);
    },
  );

  it('the scan sees a chain where there is one (the package root loads LangChain)', () => {
    const { files, packages } = loadedBy(join(ROOT, 'src/index.ts'));
    expect([...files].map(rel)).toContain('src/langchain/cache.ts');
    expect([...packages]).toContain('@langchain/core/caches');
  });
});
