/**
 * Every program in examples/ runs and does what its comment says: against a fake OpenAI-compatible
 * server, importing `strata-cache` as an application does (needs `npm run build`). The gateway
 * example needs Python: the SDK is installed by scripts/python-clients.sh, which fails loudly
 * without python3 (this test is never skipped).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeLlm } from '../support/fake-llm.js';
import { pythonClients } from '../support/python.js';
import { ROOT } from '../support/services.js';
import { freshDir, requireBuild, runProgram, startFakeOpenAi } from './run-as-user.js';

const EXAMPLES = join(ROOT, 'examples');
let fake: FakeLlm;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  requireBuild();
  ({ fake, env } = await startFakeOpenAi());
});
afterAll(async () => {
  await fake?.close();
});

/** The answer lines a program printed (`<label>: <answer>`), by label. */
function answers(stdout: string): Record<string, string> {
  return Object.fromEntries([...stdout.matchAll(/^(\w+) call[^:]*: (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('examples/langchain-app.ts', () => {
  it('calls the model once; the repeat is a memory hit, and a second run is answered by SQLite', async () => {
    const cwd = freshDir();
    const before = fake.count();
    const first = await runProgram(join(EXAMPLES, 'langchain-app.ts'), cwd, env);
    const said = answers(first);
    expect(said.first).toMatch(/^Answer #\d+ to: How do I rotate my API key\?$/);
    expect(said.second).toBe(said.first);
    expect(first).toContain('(answered by the memory tier)');
    expect(first).toContain('hits per tier: memory=1, sqlite=0');
    expect(fake.count()).toBe(before + 1);

    const again = await runProgram(join(EXAMPLES, 'langchain-app.ts'), cwd, env);
    expect(answers(again)).toEqual({ first: said.first, second: said.first });
    expect(again).toContain('(answered by the sqlite tier)');
    expect(again).toContain('hits per tier: memory=1, sqlite=1');
    expect(fake.count()).toBe(before + 1);
  });
});

describe('examples/with-cache-streaming.ts', () => {
  it('streams a miss from the model and replays the hit as a stream that says so', async () => {
    const before = fake.count();
    const stdout = await runProgram(join(EXAMPLES, 'with-cache-streaming.ts'), freshDir(), env);
    const streams = [...stdout.matchAll(/^(\w+) stream: (.*)\n {2}(\d+) chunks, strata: (.*)$/gm)].map(
      (m) => ({
        label: m[1],
        text: m[2],
        chunks: Number(m[3]),
        strata: JSON.parse(m[4]!) as Record<string, unknown>,
      }),
    );
    expect(streams.map((s) => s.label)).toEqual(['first', 'second']);
    const [miss, hit] = streams as [(typeof streams)[0], (typeof streams)[0]];
    expect(miss.text).toMatch(/^Answer #\d+ to: Explain rate limits in one sentence\.$/);
    expect(miss.strata).toEqual({ hit: false });
    expect(hit.text).toBe(miss.text);
    expect(hit.strata).toMatchObject({ hit: true, tier: 'memory' });
    expect(hit.chunks).toBeGreaterThan(1);
    expect(fake.count()).toBe(before + 1);
  });
});

describe('examples/custom-tier', () => {
  it('a tier declared with defineTier is named in the config by its type and answers the repeat', async () => {
    const before = fake.count();
    const stdout = await runProgram(join(EXAMPLES, 'custom-tier', 'main.ts'), freshDir(), env);
    const said = answers(stdout);
    expect(said.first).toMatch(/^Answer #\d+ to: Where do I find my invoices\?$/);
    expect(said.second).toBe(said.first);
    expect(stdout).toContain('(answered by the shelf tier)');
    expect(stdout).toContain('tier shelf (type map): 1 stored, 1 hit');
    expect(fake.count()).toBe(before + 1);
  });

  it('is the code docs/custom-tiers.md shows', () => {
    const page = readFileSync(join(ROOT, 'docs', 'custom-tiers.md'), 'utf8');
    for (const file of ['map-tier.ts', 'definition.ts'])
      expect(page).toContain(readFileSync(join(EXAMPLES, 'custom-tier', file), 'utf8').trim());
  });
});

describe('examples/gateway', () => {
  let proxy: ChildProcess | undefined;
  afterAll(() => {
    proxy?.kill('SIGTERM');
  });

  /** `strata proxy` from the built package, with the example's config sending upstream to the fake. */
  async function startProxy(): Promise<string> {
    const dir = freshDir();
    const config = readFileSync(join(EXAMPLES, 'gateway', 'strata.config.json'), 'utf8')
      .replaceAll('https://api.openai.com', fake.url)
      .replaceAll('https://api.anthropic.com', fake.url);
    writeFileSync(join(dir, 'strata.config.json'), config);
    proxy = spawn(
      process.execPath,
      [join(ROOT, 'dist', 'cli', 'main.js'), 'proxy', '--config', 'strata.config.json', '--port', '0'],
      { cwd: dir, env: { ...env, STRATA_DIGEST_KEY: 'a'.repeat(64) }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const started = proxy;
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`strata proxy did not start:\n${out}`)), 30_000);
      const read = (chunk: Buffer) => {
        out += chunk.toString();
        const at = /listening at (http:\/\/\S+)/.exec(out);
        if (at) {
          clearTimeout(timer);
          resolve(at[1]!);
        }
      };
      started.stdout?.on('data', read);
      started.stderr?.on('data', read);
      started.once('exit', (code) => reject(new Error(`strata proxy exited (${code}):\n${out}`)));
    });
  }

  it('app.py with the Python OpenAI SDK: a miss, then the same answer as a hit', async () => {
    const python = pythonClients();
    const url = await startProxy();
    const before = fake.count();
    const { stdout } = await promisify(execFile)(python, [join(EXAMPLES, 'gateway', 'app.py')], {
      env: { ...env, OPENAI_BASE_URL: `${url}/v1`, OPENAI_API_KEY: 'sk-python-example-user' },
      timeout: 60_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((l) => /^(\w+) (\w+) (.*)$/.exec(l)!.slice(1)) as [string[], string[]];
    expect(first.slice(0, 2)).toEqual(['first', 'miss']);
    expect(first[2]).toMatch(/^Answer #\d+ to: How do I rotate my API key\?$/);
    expect(second).toEqual(['second', 'hit', first[2]]);
    expect(fake.count()).toBe(before + 1);
  }, 360_000);
});

describe('examples/ type-check', () => {
  it('against the sources, without a build (examples/tsconfig.json)', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = await promisify(execFile)(
      process.execPath,
      [tsc, '-p', join(EXAMPLES, 'tsconfig.json')],
      {
        timeout: 120_000,
      },
    ).then(
      () => '',
      (error: { stdout?: string; message: string }) => error.stdout || error.message,
    );
    // tsc writes its diagnostics to stdout: they are the failure message.
    expect(checked).toBe('');
  }, 150_000);
});
