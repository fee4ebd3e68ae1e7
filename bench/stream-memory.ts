/**
 * RSS growth of the gateway's process for (a) a 45 MB stream read by a client (curl, another
 * process) and (b) the same stream requested by a client that never reads (a raw socket).
 * Usage: node --expose-gc --import tsx bench/stream-memory.ts <now|COMMIT> <read|unread>
 * (COMMIT: the gateway as it was at that commit, from a temporary `git archive` copy.)
 * The fake upstream runs in its own process; only the gateway is in this one.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [which = 'now', scenario = 'read'] = process.argv.slice(2);
const root = new URL('..', import.meta.url).pathname;
let copy: string | undefined;
if (which !== 'now') {
  copy = mkdtempSync(join(tmpdir(), 'strata-stream-memory-'));
  execFileSync('bash', ['-c', 'git -C "$1" archive "$2" src | tar -x -C "$3"', 'archive', root, which, copy]);
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'));
}
const { createProxy } = (await import(
  copy ? join(copy, 'src/proxy/index.ts') : `${root}src/proxy/index.ts`
)) as typeof import('../src/proxy/index.js');

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const fake = spawn(
  process.execPath,
  ['--import', tsx, `${root}test/support/fake-llm-server.ts`, '--piece-delay', '0'],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const fakeUrl = await new Promise<string>((resolve) =>
  fake.stdout!.on('data', (d: Buffer) => {
    const m = /listening (\S+)/.exec(d.toString());
    if (m) resolve(m[1]!);
  }),
);

const proxy = await createProxy(
  {
    tiers: [{ type: 'memory' }],
    proxy: {
      port: 0,
      upstreams: [{ url: fakeUrl, api: 'openai' }],
      idleTimeoutMs: 3_000,
    },
  },
  { logger: { warn: (m: string) => console.error(m) } },
);
const url = await proxy.listen();

// ~210 bytes of SSE per token: 215,000 tokens are about 45 MB of stream (860 KB of text).
const body = JSON.stringify({
  model: 'gpt-4o-mini',
  stream: true,
  messages: [{ role: 'user', content: `Memory ${Date.now()} [long:215000]` }],
});

// Warm up: the first request loads and compiles the request path; that is not the stream's cost.
for (let i = 0; i < 3; i++)
  await new Promise<void>((resolve) =>
    execFile(
      'bash',
      [
        '-c',
        `curl -sN -X POST -H 'content-type: application/json' -H 'authorization: Bearer sk-mem' --data-binary '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"warm ${i} [long:20000]"}]}' ${url}/v1/chat/completions > /dev/null`,
      ],
      () => resolve(),
    ),
  );

const mb = (n: number) => (n / 1e6).toFixed(1);
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
await new Promise((r) => setTimeout(r, 200));
gc?.();
const base = process.memoryUsage().rss;
let peak = base;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);

if (scenario === 'read') {
  const bytes = await new Promise<string>((resolve, reject) =>
    execFile(
      'bash',
      [
        '-c',
        `curl -sN -X POST -H 'content-type: application/json' -H 'authorization: Bearer sk-mem' --data-binary @- ${url}/v1/chat/completions | wc -c`,
      ],
      { maxBuffer: 1 << 20 },
      (error, stdout) => (error ? reject(error) : resolve(stdout.trim())),
    ).stdin!.end(body),
  );
  console.log(`client read ${mb(Number(bytes))} MB`);
} else {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.pause();
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer sk-mem\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // Long enough for the old gateway to pull all 45 MB, and for the new one's idleTimeoutMs (3 s).
  await new Promise((r) => setTimeout(r, 6_000));
  socket.destroy();
}
await new Promise((r) => setTimeout(r, 200));
clearInterval(sampler);
gc?.();
const after = process.memoryUsage().rss;
console.log(
  `${which} ${scenario}: rss base ${mb(base)} MB, peak ${mb(peak)} MB (+${mb(peak - base)}), after gc ${mb(after)} MB (+${mb(after - base)})`,
);
await proxy.close(100);
fake.kill();
if (copy) rmSync(copy, { recursive: true, force: true });
