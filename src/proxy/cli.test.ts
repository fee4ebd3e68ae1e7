/** `strata proxy` as a user starts it: a config file, a child process, one base URL, SIGTERM to stop. */
import { once } from 'node:events';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliWorkspaces } from '../../test/support/cli.js';
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.js';
import { spawnTs } from '../../test/support/run-ts.js';
import { ROOT } from '../../test/support/services.js';
import { hitObject } from './hit-usage.js';

const { workspace } = cliWorkspaces('strata-proxy-cli-');
let fake: FakeLlm;

beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(async () => {
  await fake?.close();
});

describe('strata proxy', () => {
  it('serves from the config, caches in its SQLite file, and stops cleanly on SIGTERM', async () => {
    const ws = workspace([{ type: 'memory' }, { type: 'sqlite', path: 'cache.db' }], {
      proxy: { port: 0, upstreams: [{ url: fake.url, api: 'openai' }] },
    });
    const child = spawnTs(join(ROOT, 'src', 'cli', 'main.ts'), [
      'proxy',
      '--config',
      ws.config,
      '--monitor-port',
      '0',
    ]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    try {
      for (let i = 0; i < 200 && !/listening at (\S+) /.test(out); i++)
        await new Promise((r) => setTimeout(r, 50));
      const url = /listening at (\S+) /.exec(out)?.[1];
      expect(url, out).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const client = new OpenAI({ apiKey: 'sk-cli-user', baseURL: `${url}/v1`, maxRetries: 0 });
      const request = {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user' as const, content: 'CLI question' }],
      };
      const first = await client.chat.completions.create(request);
      const second = await client.chat.completions.create(request).withResponse();
      expect(second.data).toEqual(hitObject(first as never));
      expect(second.response.headers.get('x-strata-cache')).toBe('hit');
      expect(fake.count()).toBe(1);
      // The monitor: the library's metrics and the gateway's, labelled by route and model.
      const metrics = await (await fetch(/metrics at (\S+)/.exec(out)![1]!)).text();
      expect(metrics).toContain(
        'strata_proxy_requests_total{route="chat.completions",model="gpt-4o-mini",cache="hit"} 1',
      );
      expect(metrics).toMatch(/^strata_hits_total 1$/m);
      expect(metrics).toMatch(/^strata_saved_hits_total\{model="gpt-4o-mini"\} 1$/m);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    // The answer outlived the process: it is in the SQLite tier.
    const stats = await cli('stats', '--json', '--config', ws.config);
    const sqlite = JSON.parse(stats.out.join('\n')).tiers.find((t: { name: string }) => t.name === 'sqlite');
    expect(sqlite.store.entries).toBe(1);
  });

  it('refuses a config without a proxy section, and bad ports, with exit code 2', async () => {
    const ws = workspace([{ type: 'memory' }]);
    const missing = await cli('proxy', '--config', ws.config);
    expect(missing.code).toBe(2);
    expect(missing.err.join('\n')).toContain('no `proxy` section');
    const badPort = await cli('proxy', '--config', ws.config, '--port', 'http');
    expect(badPort.code).toBe(2);
    expect(badPort.err.join('\n')).toContain('--port must be 0-65535');
  });
});
