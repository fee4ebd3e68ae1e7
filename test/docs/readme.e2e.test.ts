/**
 * The README is short, and every TypeScript block in it runs: each ```ts block is written to a
 * file inside the repository (so `strata-cache` resolves to the built package, as for a user) and
 * run with tsx against a fake OpenAI-compatible server (OPENAI_BASE_URL, a dummy OPENAI_API_KEY).
 * The gateway's config and Python blocks are the files examples.e2e.test.ts runs.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/schema.js';
import type { FakeLlm } from '../support/fake-llm.js';
import { ROOT } from '../support/services.js';
import { freshDir, requireBuild, runProgram, startFakeOpenAi } from './run-as-user.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The fenced blocks of one language, in order. */
function blocks(language: string): string[] {
  return [...README.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map(
    (m) => m[1]!,
  );
}

const tsBlocks = blocks('ts');
let fake: FakeLlm;
let env: NodeJS.ProcessEnv;
// Inside the repository, so that the package's self-reference resolves `strata-cache`; .scratch/ is ignored by git.
mkdirSync(join(ROOT, '.scratch'), { recursive: true });
const scratch = mkdtempSync(join(ROOT, '.scratch', 'readme-'));

beforeAll(async () => {
  requireBuild();
  ({ fake, env } = await startFakeOpenAi());
});
afterAll(async () => {
  await fake?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('README.md', () => {
  it('is at most 250 lines, and its TypeScript blocks are found', () => {
    expect(README.split('\n').length).toBeLessThanOrEqual(250);
    expect(tsBlocks.length).toBeGreaterThanOrEqual(2);
  });

  it.each(tsBlocks.map((code, i) => [i + 1, code] as const))(
    'TypeScript block %i runs, and its repeated question calls the model once',
    async (n, code) => {
      const file = join(scratch, `block-${n}.ts`);
      writeFileSync(file, code);
      const before = fake.count();
      const stdout = await runProgram(file, freshDir(), env);
      expect(stdout).toMatch(/hit/);
      expect(fake.count()).toBe(before + 1);
    },
    120_000,
  );

  it("the gateway's config block is valid and is examples/gateway/strata.config.json", () => {
    const [config] = blocks('json');
    expect(config).toBeDefined();
    const parsed = JSON.parse(config!) as Record<string, unknown>;
    expect(() => parseConfig(parsed)).not.toThrow();
    expect(parsed).toEqual(
      JSON.parse(readFileSync(join(ROOT, 'examples', 'gateway', 'strata.config.json'), 'utf8')),
    );
  });

  it('the Python block is examples/gateway/app.py, which examples.e2e.test.ts runs', () => {
    expect(blocks('python')).toEqual([readFileSync(join(ROOT, 'examples', 'gateway', 'app.py'), 'utf8')]);
  });

  it('fences only sh (instructions), ts (run above), json and python (checked above)', () => {
    const fences = [...README.matchAll(/^```(\w*)$/gm)].map((m) => m[1]).filter((l) => l !== '');
    expect(new Set(fences)).toEqual(new Set(['sh', 'ts', 'json', 'python']));
  });
});
