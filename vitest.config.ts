import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Test kinds by file name (CONTRIBUTING.md, "Tests"): `*.test.ts` needs nothing but Node,
// `*.int.test.ts` a service of scripts/services.sh or an onnx model, `*.e2e.test.ts` a browser,
// Python, or the packed package.
const ROOTS = ['src', 'test'];
const files = (suffix: string) => ROOTS.map((root) => `${root}/**/*${suffix}`);
const INTEGRATION = files('.int.test.ts');
const E2E = files('.e2e.test.ts');

export default defineConfig({
  // The examples import the package by name, as users do; tests run them against the sources.
  resolve: {
    alias: [
      { find: /^strata-cache$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      {
        find: /^strata-cache\/engine$/,
        replacement: fileURLToPath(new URL('./src/engine/index.ts', import.meta.url)),
      },
    ],
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: files('.test.ts'),
          exclude: [...INTEGRATION, ...E2E],
          // Unit files own their temp dirs and bind port 0, so they run side by side. Much of
          // their time is spent waiting (timers, child processes, sockets), so more files than
          // cores (vitest's default on 2 cores is 1 worker) keep the cores busy.
          fileParallelism: true,
          maxWorkers: 4,
          // A worker keeps its imported modules from one file to the next: importing LangChain
          // and the providers anew for each file was most of the suite's CPU time. Unit files
          // leave no state behind (they restore env and mocks), so sharing the imports is safe.
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: INTEGRATION,
          // The services listen on fixed ports and some files stop and restart them: a file at a time.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: E2E,
          // Browsers, Python and npm installs are heavy: a file at a time, after the integration files.
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
