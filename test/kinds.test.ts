/**
 * A test file's name says what it needs (CONTRIBUTING.md, "Tests"), and `npm test` relies on it:
 * a unit file (`*.test.ts`) that reached a service, an onnx model, Python or Chromium, itself or
 * through a helper it imports, would start a service in the middle of the parallel unit run.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/services.js';

/** What only an integration file may call: the services of scripts/services.sh, the models. */
const INTEGRATION = /\b(service|services|servicePid|onnxModel)\(/;
/** What only an end-to-end file may call: Chromium, the Python clients. */
const E2E = /\b(chromiumPath|pythonClients|runPythonScript)\(/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : files(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The TypeScript files a file imports by relative path, statically or dynamically. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*)'(\.[^']*)\.js'/g)].map((m) =>
    resolve(dirname(file), `${m[1]}.ts`),
  );
}

/** What a file needs, through everything it imports from test/support. */
function needs(file: string, seen = new Set<string>()): Set<'integration' | 'e2e'> {
  const found = new Set<'integration' | 'e2e'>();
  if (seen.has(file)) return found;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  // The helpers that define these functions do not need them themselves.
  if (!file.endsWith(join('support', 'services.ts')) && !file.endsWith(join('support', 'python.ts'))) {
    if (INTEGRATION.test(text)) found.add('integration');
    if (E2E.test(text)) found.add('e2e');
  }
  for (const target of importsOf(file))
    if (target.includes(`${join('test', 'support')}`)) for (const n of needs(target, seen)) found.add(n);
  return found;
}

// This file is left out: its fixture below holds an import line in a string.
const tests = [...files(join(ROOT, 'src')), ...files(join(ROOT, 'test'))].filter(
  (f) => f.endsWith('.test.ts') && f !== import.meta.filename,
);

describe('test kinds', () => {
  it('no unit test reaches a service, a model, Python or Chromium; no integration test Python or Chromium', () => {
    const misnamed: string[] = [];
    for (const file of tests) {
      const kind = file.endsWith('.e2e.test.ts')
        ? 'e2e'
        : file.endsWith('.int.test.ts')
          ? 'integration'
          : 'unit';
      const need = needs(file);
      if (kind === 'unit' && need.size > 0) misnamed.push(`${relative(ROOT, file)} needs ${[...need]}`);
      if (kind === 'integration' && need.has('e2e')) misnamed.push(`${relative(ROOT, file)} needs e2e`);
    }
    expect(misnamed).toEqual([]);
  });

  it('sees a need through a helper (the scan can fail)', () => {
    expect(needs(join(ROOT, 'src', 'tiers', 'redis', 'redis.int.test.ts'))).toContain('integration');
    expect(needs(join(ROOT, 'src', 'proxy', 'python-sdk.e2e.test.ts'))).toContain('e2e');
    const dir = mkdtempSync(join(tmpdir(), 'strata-kinds-'));
    try {
      mkdirSync(join(dir, 'test', 'support'), { recursive: true });
      writeFileSync(join(dir, 'test', 'support', 'peer.ts'), "export const env = service('redis');\n");
      writeFileSync(join(dir, 'a.test.ts'), "import { env } from './test/support/peer.js';\n");
      expect([...needs(join(dir, 'a.test.ts'))]).toEqual(['integration']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
