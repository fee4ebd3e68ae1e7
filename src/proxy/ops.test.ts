/**
 * Running the gateway: upstream routes that can never be reached, `strata proxy --help`, IPv6
 * and bad hosts, and what its monitor lets whom see (every client token; tenants by rank only
 * when it has no token).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../../test/support/cli.js';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import { ROOT } from '../../test/support/services.js';
import { parseConfig } from '../config/schema.js';
import { StrataConfigError } from '../errors.js';
import { isLoopback } from '../http/bind-host.js';
import { createCache } from '../langchain/create.js';
import { createMonitor } from '../monitor/index.js';
import { startServer } from '../monitor/server.js';
import { proxyConfigSchema } from './config.js';
import { createProxy } from './index.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});
async function gateway(o: Parameters<typeof startGateway>[0]): Promise<TestGateway> {
  const gw = await startGateway(o);
  open.push(gw);
  return gw;
}

/** A GET with exactly these headers (fetch cannot set Host), to any host, IPv6 included. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

function configError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(StrataConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a config error');
}

describe('upstream routes', () => {
  const proxy = (upstreams: unknown[]) => ({ tiers: [{ type: 'memory' }], proxy: { upstreams } });

  it("the README's example parses, and listing its catch-all first is an error naming the dead route", () => {
    const gatewayPage = readFileSync(join(ROOT, 'docs', 'gateway.md'), 'utf8');
    const example = /```json\n([\s\S]*?)```/.exec(gatewayPage)![1]!;
    const config = parseConfig(JSON.parse(example));
    const [llama, openai] = config.proxy!.upstreams;
    expect(llama!.match.model).toBe('llama-');
    expect(openai!.match).toEqual({});

    const message = configError(() =>
      parseConfig(
        proxy([
          { api: 'openai', url: 'https://api.openai.com' },
          { api: 'anthropic', url: 'https://api.anthropic.com' },
          { api: 'openai', url: 'http://127.0.0.1:8000', match: { model: 'llama-' } },
        ]),
      ),
    );
    expect(message).toContain(
      'proxy.upstreams[2].match: can never be used: upstreams[0] (https://api.openai.com)',
    );
  });

  it('a route is dead only when an earlier one of the same API matches all it matches', () => {
    expect(
      configError(() =>
        parseConfig(
          proxy([
            { api: 'openai', url: 'http://a', match: { model: 'llama-' } },
            { api: 'openai', url: 'http://b', match: { model: 'llama-3', path: '/v1/chat' } },
          ]),
        ),
      ),
    ).toContain(
      'upstreams[1].match: can never be used: upstreams[0] (http://a) comes first and takes every openai request for a model starting with "llama-"',
    );
    // Narrower first, another API, or a match the earlier one does not cover: all reachable.
    expect(() =>
      parseConfig(
        proxy([
          { api: 'openai', url: 'http://a', match: { model: 'llama-3' } },
          { api: 'openai', url: 'http://b', match: { model: 'llama-' } },
          { api: 'anthropic', url: 'http://c' },
          { api: 'openai', url: 'http://d', match: { path: '/v1/embeddings' } },
          { api: 'openai', url: 'http://e', match: { model: 'gpt-' } },
          { api: 'openai', url: 'http://f' },
        ]),
      ),
    ).not.toThrow();
  });
});

describe('strata proxy --help', () => {
  it('lists the proxy options on standard output, exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, out, err } = await cli('proxy', flag);
      expect(code).toBe(0);
      expect(err).toEqual([]);
      const text = out.join('\n');
      expect(text).toMatch(/^usage: strata proxy /);
      for (const option of ['--host', '--port', '--monitor-port', '--config']) expect(text).toContain(option);
      // Every field of the `proxy` section, so the help cannot fall behind the schema.
      for (const field of Object.keys(proxyConfigSchema.shape)) expect(text, field).toContain(field);
    }
  });
});

describe('hosts', () => {
  it('listens on [::1] and ::1, the gateway and its monitor, with URLs that work', async () => {
    for (const host of ['[::1]', '::1']) {
      const gw = await gateway({ proxy: { host, monitorPort: 0 } });
      expect(gw.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: 'Bearer sk-v6' } });
      expect(models.status).toBe(200);
      const monitor = gw.proxy.monitorUrl!;
      expect(monitor).toMatch(/^http:\/\/\[::1\]:\d+$/);
      expect((await get(`${monitor}/health`)).status).toBe(200);
    }
  });

  it('names what is wrong with a host before anything listens', async () => {
    const cases: Array<[string, RegExp]> = [
      ['http://127.0.0.1:8787', /not a URL/],
      ['localhost:8787', /must not carry a port/],
      ['[::1]:8787', /must not carry a port/],
      ['[::1', /bracketed only around a whole IPv6 address/],
      ['::g', /not a valid IPv6 address/],
      ['my host', /must be a host name or an IP address/],
      ['', /must not be empty/],
    ];
    for (const [host, problem] of cases) {
      const message = configError(() =>
        parseConfig({
          tiers: [{ type: 'memory' }],
          proxy: { host, upstreams: [{ api: 'openai', url: 'http://x' }] },
        }),
      );
      expect(message, host).toMatch(new RegExp(`proxy\\.host: .*${problem.source}`));
      // The problem itself, not the loopback refusal that would follow from a host it cannot read.
      expect(message, host).not.toContain('refusing to listen');
      await expect(
        createProxy({
          tiers: [{ type: 'memory' }],
          proxy: { host, upstreams: [{ api: 'openai', url: 'http://x' }] },
        }),
      ).rejects.toThrow(problem);
    }
    const cache = await createCache({ tiers: [{ type: 'memory' }] }, { logger: { warn: () => {} } });
    const monitor = createMonitor(cache);
    try {
      await expect(startServer(cache, monitor, { host: 'http://localhost', port: 0 })).rejects.toThrow(
        /host "http:\/\/localhost": must be a host name or an IP address, not a URL/,
      );
      // `[::1]` is loopback: no token needed.
      const server = await startServer(cache, monitor, { host: '[::1]', port: 0 });
      expect(server.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      await server.close();
    } finally {
      monitor.close();
      await cache.close();
    }
  });
});

describe('strata serve', () => {
  it('takes [::1] as loopback, and names a malformed host before opening anything', async () => {
    expect(isLoopback('[::1]')).toBe(true);
    expect(isLoopback('[::2]')).toBe(false);
    const bad = await cli('serve', '--host', 'http://localhost');
    expect(bad.code).toBe(2);
    expect(bad.err.join('\n')).toMatch(
      /--host http:\/\/localhost must be a host name or an IP address, not a URL/,
    );
  });
});

describe("the gateway's monitor", () => {
  const TOKENS = ['client-token-one-0123456789', 'client-token-two-0123456789'];

  it('accepts every client token, and nothing else', async () => {
    const gw = await gateway({
      proxy: { clientTokens: [TOKENS[0]!] },
    });
    const many = await createProxy(
      {
        tiers: [{ type: 'memory' }],
        proxy: {
          port: 0,
          monitorPort: 0,
          clientTokens: [TOKENS[0]!],
          clientTokensEnv: 'HITS_TEST_TOKENS',
          upstreams: [{ url: gw.fake.url, api: 'openai' }],
        },
      },
      { env: { HITS_TEST_TOKENS: `${TOKENS[1]}, third-token-0123456789` }, logger: { warn: () => {} } },
    );
    await many.listen();
    open.push({ close: () => many.close(500) });
    const url = `${many.monitorUrl}/api/stats`;
    for (const token of [...TOKENS, 'third-token-0123456789'])
      expect((await get(url, { authorization: `Bearer ${token}` })).status, token).toBe(200);
    expect((await get(url, { authorization: 'Bearer not-a-client-token-000' })).status).toBe(401);
    expect((await get(url)).status).toBe(401);
  });

  it('without client tokens, shows tenants by rank, not by digest or header value; with them, by name', async () => {
    const tiers = [{ type: 'memory' as const }, { type: 'sqlite' as const, path: ':memory:' }];
    const ask = async (gw: TestGateway, headers: Record<string, string>) => {
      for (const question of ['one', 'two'])
        await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }),
        });
    };
    const read = async (gw: TestGateway, headers: Record<string, string> = {}) => {
      const stats = await get(`${gw.proxy.monitorUrl}/api/stats`, headers);
      const panels = await get(`${gw.proxy.monitorUrl}/api/panels`, headers);
      expect([stats.status, panels.status]).toEqual([200, 200]);
      return {
        stats: JSON.parse(stats.body),
        panels: JSON.parse(panels.body),
        text: stats.body + panels.body,
      };
    };

    const open1 = await gateway({ tiers, proxy: { monitorPort: 0, tenant: { header: 'x-team' } } });
    await ask(open1, { authorization: 'Bearer sk-a', 'x-team': 'team-secret-name' });
    await ask(open1, { authorization: 'Bearer sk-b', 'x-team': 'other-team' });
    await ask(open1, { authorization: 'Bearer sk-b', 'x-team': 'other-team' });
    const hidden = await read(open1);
    expect(hidden.text).not.toContain('team-secret-name');
    expect(hidden.text).not.toContain('other-team');
    expect(
      hidden.panels.namespaces.map((r: { name: string; lookups: number }) => [r.name, r.lookups]),
    ).toEqual([
      ['namespace 1', 4],
      ['namespace 2', 2],
    ]);
    const sqlite = hidden.stats.stats.tiers.find((t: { name: string }) => t.name === 'sqlite');
    expect(sqlite.store.namespaces).toEqual({ 'namespace 1': 2, 'namespace 2': 2 });

    const guarded = await gateway({
      tiers,
      proxy: {
        monitorPort: 0,
        clientTokens: [TOKENS[0]!],
        upstreams: [{ url: open1.fake.url, api: 'openai', apiKey: 'sk-upstream' }],
      },
    });
    await ask(guarded, { 'x-strata-token': TOKENS[0]!, authorization: 'Bearer sk-tenant' });
    const shown = await read(guarded, { authorization: `Bearer ${TOKENS[0]}` });
    expect(shown.panels.namespaces[0].name).toMatch(/^default\/key:[0-9a-f]+$/);
  });
});
