/**
 * What the docs tests share: user code (examples/, README blocks) run the way a user runs it,
 * importing `strata-cache` by name (the package's self-reference, which resolves to this
 * repository's `dist/`), with a fake OpenAI-compatible server as its model.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeLlm } from '../support/fake-llm.js';
import { runTs } from '../support/run-ts.js';
import { ROOT } from '../support/services.js';

/** `import ... from 'strata-cache'` needs the built package: fail at once, saying so. */
export function requireBuild(): void {
  if (!existsSync(join(ROOT, 'dist', 'index.js')))
    throw new Error(
      "dist/ is missing: run `npm run build` first (user code imports 'strata-cache', which is dist/)",
    );
}

export async function startFakeOpenAi() {
  const fake = await startFakeLlm({ pieceDelayMs: 0 });
  return {
    fake,
    /** The environment the OpenAI SDKs read: the fake as base URL, and a dummy key. */
    env: { ...process.env, OPENAI_BASE_URL: `${fake.url}/v1`, OPENAI_API_KEY: 'sk-docs-test-not-a-real-key' },
  };
}

/** A fresh working directory, so that each program's `./.strata/` files are its own. */
export function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'strata-docs-'));
}

/** Runs a TypeScript program with tsx; resolves with its stdout, or rejects with its stderr in the message. */
export async function runProgram(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    return (await runTs(script, [], { cwd, env, timeout: 90_000 })).stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${script} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}
