/**
 * The package as a user installs it: `npm pack`, a blank project in a temp folder, `npm install
 * <tarball> @langchain/core` and nothing else. There the README's first example runs (memory +
 * SQLite, FakeListChatModel standing in for the provider) as ESM, as TypeScript and through
 * `require`, `npx strata demo` runs twice (the second run served from SQLite), the types resolve
 * under node16, nodenext and bundler, and no backend client a memory + SQLite user did not ask
 * for is installed (so none can have been imported: the example would fail if one were).
 *
 * A second blank project installs the tarball alone (`@langchain/core` is an optional peer, so
 * npm does not bring it): there the
 * gateway runs, as `strata proxy` and as `createProxy` from `strata-cache/engine`, in front of
 * the fake LLM API, and serves the second identical request from the cache.
 *
 * It packs the `dist` that `npm run test:all` built just before (`--ignore-scripts`: no rebuild
 * under the other tests' feet). Installs come from the npm registry, through npm's cache.
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.js';
import { ROOT } from '../support/services.js';

const work = mkdtempSync(join(tmpdir(), 'strata-installed-'));
const app = join(work, 'app');
/** The blank project without LangChain. */
const bare = join(work, 'bare');
let tarball = '';
const own = (pkg: string) =>
  (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string })
    .version;

function run(cmd: string, args: string[], cwd = app): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      timeout: 600_000,
      env: {
        ...process.env,
        npm_config_audit: 'false',
        npm_config_fund: 'false',
        npm_config_update_notifier: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    // What the command printed is the diagnosis (tsc writes its errors to stdout).
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** The README's first example, with a fake model that counts its calls (attached, as the README says for classes whose llmKey names no model). Prints what happened. */
const EXAMPLE = `
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { createCache } from 'strata-cache';

const cache = await createCache({
  namespace: 'support-bot',
  defaultTtlSeconds: 86_400,
  tiers: [
    { type: 'memory', maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 },
    { type: 'sqlite', path: './.strata/cache.db', maxEntries: 1_000_000 },
  ],
});
let calls = 0;
class CountingModel extends FakeListChatModel {
  async _generate(...args) {
    calls++;
    return super._generate(...args);
  }
}
// FakeListChatModel's llmKey names no model, as most provider classes' do: attach it.
const model = cache.attach(new CountingModel({ responses: ['Settings > API keys > Rotate.'] }));
const first = await model.invoke('How do I rotate my API key?');
const second = await model.invoke('How do I rotate my API key?');
const stats = await cache.stats();
await cache.close();
console.log(JSON.stringify({ calls, first: first.content, second: second.content, tiers: stats.tiers.map((t) => [t.name, t.hits]) }));
`;

beforeAll(() => {
  const packed = JSON.parse(
    run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT),
  ) as Array<{
    filename: string;
  }>;
  tarball = join(work, packed[0]!.filename);
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'blank', version: '1.0.0', private: true }),
  );
  run('npm', [
    'install',
    '--prefer-offline',
    '--no-package-lock',
    tarball,
    `@langchain/core@${own('@langchain/core')}`,
    `typescript@${own('typescript')}`,
    `@types/node@${own('@types/node')}`,
  ]);
}, 900_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('strata-cache installed from its tarball into a blank project', () => {
  it('installs only what memory + SQLite need: no mysql2, mongodb, @redis/client or onnxruntime-node', () => {
    for (const optional of ['mysql2', 'mongodb', '@redis/client', 'onnxruntime-node', 'vitest']) {
      expect(existsSync(join(app, 'node_modules', optional)), optional).toBe(false);
    }
    expect(existsSync(join(app, 'node_modules', 'better-sqlite3'))).toBe(true);
  });

  it('ships a LICENSE, no source maps and no tests', () => {
    const pkg = join(app, 'node_modules', 'strata-cache');
    expect(readFileSync(join(pkg, 'LICENSE'), 'utf8')).toMatch(/MIT License/);
    const files = run('find', [pkg, '-type', 'f']).split('\n');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => /\.test\.|\/test\//.test(f))).toEqual([]);
  });

  it("runs the README's first example as ESM, twice: the second process is served from SQLite", () => {
    writeFileSync(join(app, 'example.mjs'), EXAMPLE);
    const first = JSON.parse(run('node', ['example.mjs']));
    expect(first).toMatchObject({
      calls: 1,
      first: 'Settings > API keys > Rotate.',
      second: 'Settings > API keys > Rotate.',
    });
    expect(first.tiers).toEqual([
      ['memory', 1],
      ['sqlite', 0],
    ]);
    const second = JSON.parse(run('node', ['example.mjs']));
    expect(second.calls).toBe(0);
    expect(second.tiers).toEqual([
      ['memory', 1],
      ['sqlite', 1],
    ]);
  });

  it('type-checks and runs as TypeScript under nodenext, node16 and bundler resolution', () => {
    // The example, typed: a wrong config field must fail to compile, so the types are really read.
    const typed = EXAMPLE.replace(
      'async _generate(...args) {',
      'override async _generate(...args: Parameters<FakeListChatModel["_generate"]>) {',
    );
    writeFileSync(join(app, 'example.mts'), typed);
    writeFileSync(
      join(app, 'wrong.mts'),
      "import { createCache } from 'strata-cache';\nawait createCache({ tiers: [{ type: 'sqlite', pth: 'x' }] });\n",
    );
    for (const resolution of ['nodenext', 'node16', 'bundler']) {
      const module = resolution === 'bundler' ? 'esnext' : resolution;
      const tsc = (file: string) =>
        run('node', [
          join('node_modules', 'typescript', 'bin', 'tsc'),
          '--noEmit',
          '--strict',
          '--skipLibCheck',
          '--target',
          'es2022',
          '--module',
          module,
          '--moduleResolution',
          resolution,
          '--types',
          'node',
          file,
        ]);
      expect(() => tsc('example.mts'), resolution).not.toThrow();
      expect(() => tsc('wrong.mts'), resolution).toThrow(/pth/);
    }
    run('node', [
      join('node_modules', 'typescript', 'bin', 'tsc'),
      '--module',
      'nodenext',
      '--target',
      'es2022',
      '--skipLibCheck',
      '--outDir',
      'out',
      'example.mts',
    ]);
    rmSync(join(app, '.strata'), { recursive: true, force: true });
    expect(JSON.parse(run('node', [join('out', 'example.mjs')])).calls).toBe(1);
  });

  it("require('strata-cache') works from CommonJS", () => {
    writeFileSync(
      join(app, 'required.cjs'),
      "const strata = require('strata-cache');\nconsole.log(typeof strata.createCache, typeof strata.withCache);\n",
    );
    expect(run('node', ['required.cjs']).trim()).toBe('function function');
  });

  it('a tier whose client is not installed is a config error that says what to install', () => {
    writeFileSync(
      join(app, 'redis.mjs'),
      "import { createCache } from 'strata-cache';\ntry { await createCache({ tiers: [{ type: 'redis', url: 'redis://127.0.0.1:1' }] }); } catch (e) { console.log(e.name + ': ' + e.message); }\n",
    );
    expect(run('node', ['redis.mjs']).trim()).toBe(
      'StrataConfigError: invalid Strata config: tiers[0]: cannot open redis tier: the redis tier needs the package @redis/client, which is not installed: npm install @redis/client',
    );
  });

  it('createProxy from the package caches a repeat in front of an OpenAI-shaped upstream', () => {
    writeFileSync(
      join(app, 'gateway.mjs'),
      `import http from 'node:http';
import { createProxy } from 'strata-cache';
let calls = 0;
const upstream = http.createServer((req, res) => {
  calls++;
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', created: 1, model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }));
  });
});
await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
const proxy = await createProxy({ tiers: [{ type: 'memory' }],
  proxy: { port: 0, upstreams: [{ api: 'openai', url: 'http://127.0.0.1:' + upstream.address().port }] } });
const url = await proxy.listen();
const ask = () => fetch(url + '/v1/chat/completions', { method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer sk-x' },
  body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }] }) });
const first = await ask(); await first.text();
const second = await ask();
const body = await second.json();
await proxy.close();
upstream.close();
console.log(JSON.stringify({ calls, cache: second.headers.get('x-strata-cache'), content: body.choices[0].message.content }));
`,
    );
    expect(JSON.parse(run('node', ['gateway.mjs']))).toEqual({ calls: 1, cache: 'hit', content: 'hi' });
  });

  it('npx strata demo twice: the second run is served from SQLite and calls the LLM 0 times', () => {
    const demo = () =>
      run('npx', ['--no-install', 'strata', 'demo', '--requests', '120', '--latency', '1-3']);
    rmSync(join(app, '.strata'), { recursive: true, force: true });
    expect(demo()).toMatch(/entries at start: memory 0, sqlite 0/);
    const second = demo();
    expect(Number(/sqlite +(\d+) hits/.exec(second)?.[1])).toBeGreaterThan(0);
    expect(second).toMatch(/called the LLM +0 /);
  });
});

/** A request the gateway caches (it keys callers by their credentials, and caches none without). */
function ask(url: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bare-project-test' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
  });
}

/** The cache statuses and answers of two identical requests. */
async function askTwice(url: string): Promise<Array<{ cache: string | null; body: string }>> {
  const out: Array<{ cache: string | null; body: string }> = [];
  for (let i = 0; i < 2; i++) {
    const res = await ask(url);
    const body = await res.text();
    expect(res.status, body).toBe(200);
    out.push({ cache: res.headers.get('x-strata-cache'), body });
  }
  return out;
}

describe('strata-cache installed without @langchain/core: the gateway alone', () => {
  let fake: FakeLlm;

  beforeAll(async () => {
    mkdirSync(bare);
    writeFileSync(
      join(bare, 'package.json'),
      JSON.stringify({ name: 'bare', version: '1.0.0', private: true }),
    );
    run('npm', ['install', '--prefer-offline', '--no-package-lock', tarball], bare);
    fake = await startFakeLlm();
    writeFileSync(
      join(bare, 'strata.json'),
      JSON.stringify({
        tiers: [{ type: 'memory' }],
        proxy: { port: 0, upstreams: [{ api: 'openai', url: fake.url }] },
      }),
    );
  }, 900_000);

  afterAll(async () => {
    await fake?.close();
  });

  it('has no @langchain/core to load', () => {
    expect(existsSync(join(bare, 'node_modules', 'strata-cache'))).toBe(true);
    expect(existsSync(join(bare, 'node_modules', '@langchain', 'core'))).toBe(false);
  });

  it('`strata demo`, which drives a LangChain model, says what to install and exits 1', () => {
    const demo = spawnSync('npx', ['--no-install', 'strata', 'demo', '--requests', '1'], {
      cwd: bare,
      encoding: 'utf8',
    });
    expect([demo.status, demo.stderr.trim()]).toEqual([
      1,
      'strata demo: the demo runs a LangChain model and needs @langchain/core: npm install @langchain/core',
    ]);
  });

  it('`strata proxy` serves the second identical request from the cache', async () => {
    const child = spawn('npx', ['--no-install', 'strata', 'proxy', '--config', 'strata.json'], {
      cwd: bare,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const listening = /listening at (http:\/\/\S+)/.exec(output);
          if (listening) resolve(listening[1]!);
        });
        child.once('exit', (code) => reject(new Error(`strata proxy exited (${code}):\n${output}`)));
      });
      const calls = fake.calls.length;
      const [first, second] = await askTwice(url);
      expect(first!.cache).toBe('miss');
      expect(second!.cache).toBe('hit');
      // The same answer; a hit reports zero usage of its own, and what the miss used under `strata`.
      const content = (body: string) =>
        (JSON.parse(body) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message
          .content;
      expect(content(second!.body)).toBe(content(first!.body));
      expect(fake.calls.length - calls).toBe(1);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    expect(output).not.toMatch(/@langchain/);
  });

  it("createProxy from 'strata-cache/engine' serves the second identical request from the cache", async () => {
    writeFileSync(
      join(bare, 'gateway.mjs'),
      `import { createProxy } from 'strata-cache/engine';
const proxy = await createProxy({ tiers: [{ type: 'memory' }],
  proxy: { port: 0, upstreams: [{ api: 'openai', url: ${JSON.stringify(fake.url)} }] } });
const url = await proxy.listen();
const statuses = [];
for (let i = 0; i < 2; i++) {
  const res = await fetch(url + '/v1/chat/completions', { method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bare-project-test' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello again' }] }) });
  await res.text();
  statuses.push(res.headers.get('x-strata-cache'));
}
const stats = await proxy.strata.stats();
await proxy.close();
console.log(JSON.stringify({ statuses, hits: stats.hits }));
`,
    );
    // Not execFileSync: the fake upstream runs in this process, and must keep answering meanwhile.
    const { stdout } = await promisify(execFile)('node', ['gateway.mjs'], { cwd: bare, timeout: 60_000 });
    expect(JSON.parse(stdout)).toEqual({ statuses: ['miss', 'hit'], hits: 1 });
  });

  it('the package root says it needs @langchain/core, and the engine entry does not', () => {
    writeFileSync(
      join(bare, 'root.mjs'),
      "try { await import('strata-cache'); console.log('loaded'); } catch (e) { console.log(e.code); }\n" +
        "const engine = await import('strata-cache/engine'); console.log(typeof engine.createStrata);\n",
    );
    expect(run('node', ['root.mjs'], bare).trim().split('\n')).toEqual(['ERR_MODULE_NOT_FOUND', 'function']);
  });
});
