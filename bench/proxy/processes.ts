/**
 * The processes the proxy benchmark runs: TypeScript entry points (the gateway, the fake
 * upstream), a sink upstream, a probing client, and an older commit's source tree. Every child is
 * killed when the benchmark exits.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pin } from '../harness.js';

/** The repository's root. */
export const ROOT = join(import.meta.dirname, '..', '..');
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGTERM');
});

/** Starts a TypeScript entry point and waits for the line that says where it listens. */
export async function startTs(
  script: string,
  args: string[],
  ready: RegExp,
  preload: string[] = [],
): Promise<{ url: string; pid: number; child: ChildProcess; output(): string }> {
  const child = spawn(
    process.execPath,
    [...preload.flatMap((p) => ['--import', p]), '--import', tsx, script, ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${out}`)));
  });
  return { url, pid: child.pid!, child, output: () => out };
}

/**
 * Another client, in a process of its own (so that nothing the benchmark's client does delays
 * it): sends `body` again and again, one at a time, until stopped; then says its slowest and
 * median answer.
 */
export async function startProbe(
  url: string,
  body: string,
): Promise<{ stop(): Promise<{ max: number; p50: number }> }> {
  const source = `
    const http = require('node:http');
    const [url, body] = process.argv.slice(1);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let stopping = false;
    process.stdin.on('data', () => { stopping = true; });
    const once = () => new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = http.request(url + '/v1/chat/completions', { method: 'POST', agent, headers: {
        'content-type': 'application/json', authorization: 'Bearer sk-bench-load-0123456789' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - t0));
      });
      req.on('error', reject);
      req.end(body);
    });
    (async () => {
      const waits = [];
      await once();
      console.log('ready');
      while (!stopping) waits.push(await once());
      waits.sort((a, b) => a - b);
      console.log(JSON.stringify({ max: waits.at(-1), p50: waits[waits.length >> 1] }));
      process.exit(0);
    })();`;
  const child = spawn(process.execPath, ['-e', source, url, body], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  pin(child.pid!, 0);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 10));
  return {
    async stop() {
      const exited = once(child, 'exit');
      child.stdin!.end('stop\n');
      await exited;
      return JSON.parse(out.slice(out.indexOf('{'))) as { max: number; p50: number };
    },
  };
}

/** An upstream that reads each body without parsing it and answers one fixed chat completion. */
export async function startSink(): Promise<{ url: string; pid: number }> {
  const source = `
    const answer = JSON.stringify({ id: 'chatcmpl-sink', object: 'chat.completion', created: 1, model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'From the sink.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } });
    const server = require('node:http').createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        res.end(answer);
      });
    });
    server.listen(0, '127.0.0.1', () => console.log('listening http://127.0.0.1:' + server.address().port));`;
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { url: /listening (\S+)/.exec(line.toString())![1]!, pid: child.pid! };
}

/** An older commit's source tree (`PROXY_BENCH_BEFORE`), whose gateway runs beside this one. */
export interface Before {
  readonly commit: string;
  readonly root: string;
}

/** The source tree of `commit` in a temporary folder, using this checkout's node_modules. */
export function checkout(commit: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-before-'));
  execFileSync('bash', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'archive', ROOT, commit, dir]);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
