/**
 * What web browsers may do with the gateway (browser.ts), over real HTTP with node:http so that
 * Host, Origin and Sec-Fetch-Site can be exactly what a browser (or an attacker's page) sends:
 * DNS rebinding, content types a page can send without a preflight, origins, preflights, and the
 * CORS headers a listed origin gets on every kind of answer. The upstream is the fake LLM, which
 * counts its calls: a refused request must leave that count unchanged.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.js';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import { type RawReply, rawRequest } from '../../test/support/raw-http.js';
import { parseConfig } from '../config/schema.js';
import type { StrataConfigError } from '../errors.js';
import { clientHeaders } from './upstream.js';

const APP = 'http://app.example:5173';
const TOKEN = 'client-token-0123456789';

type Reply = RawReply;

/**
 * One request to the gateway with these headers (Host defaults to 127.0.0.1:port, and a caller's
 * key to one of its own: a request with no credential is never cached, see tenancy.ts).
 */
function send(
  gw: TestGateway,
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const port = Number(new URL(gw.url).port);
  return rawRequest(port, path, {
    ...o,
    headers: { host: `127.0.0.1:${port}`, authorization: 'Bearer sk-browser-test-caller', ...o.headers },
  });
}

const chatBody = (question: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }], ...extra });
const JSON_TYPE = { 'content-type': 'application/json' };

/** The CORS part of a response: what a browser decides with. */
function corsOf(reply: Reply) {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.headers))
    if (name.startsWith('access-control-')) out[name] = String(value);
  return out;
}
const varyNames = (reply: Reply) =>
  String(reply.headers.vary ?? '')
    .split(',')
    .map((v) => v.trim().toLowerCase());

describe('gateway on loopback, no client tokens, no cors origins', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw?.close());

  it("answers only its own names (the monitor's Host check) and refuses others with 421, sending nothing upstream", async () => {
    const { port } = new URL(gw.url);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      const reply = await send(gw, '/v1/chat/completions', {
        headers: { ...JSON_TYPE, host },
        body: chatBody(`host ${host}`),
      });
      expect(reply.status, host).toBe(200);
    }
    const calls = gw.fake.count();
    for (const host of [
      'attacker.example',
      `attacker.example:${port}`,
      `localhost:${Number(port) + 1}`,
      `127.0.0.1.nip.io:${port}`,
    ]) {
      for (const [path, body] of [
        ['/v1/chat/completions', chatBody('rebound')],
        ['/v1/files', undefined],
        ['/v1/models', undefined],
      ] as const) {
        const reply = await send(gw, path, {
          headers: { ...JSON_TYPE, host, authorization: 'Bearer sk-victim' },
          ...(body === undefined ? {} : { body }),
        });
        expect(reply.status, `${host}${path}`).toBe(421);
        expect(JSON.parse(reply.body).error.message).toMatch(/unknown Host; use http:\/\/127\.0\.0\.1:\d+/);
      }
    }
    expect(gw.fake.count()).toBe(calls);
  });

  it('takes only application/json on the cached endpoints: 415 for what a page can send without a preflight', async () => {
    const calls = gw.fake.count();
    const before = gw.proxy.counters.text();
    const body = chatBody('text/plain smuggling');
    for (const type of [
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/vnd.api+json',
      'application/jsonp',
      '',
      undefined,
    ]) {
      for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses']) {
        const reply = await send(gw, path, {
          headers: type === undefined ? {} : { 'content-type': type },
          body,
        });
        expect(reply.status, `${path} ${type}`).toBe(415);
        expect(JSON.parse(reply.body).error).toMatchObject({ type: 'invalid_request_error' });
        expect(JSON.parse(reply.body).error.message).toMatch(/Content-Type must be application\/json/);
      }
      const anthropic = await send(gw, '/v1/messages', {
        headers: {
          'anthropic-version': '2023-06-01',
          ...(type === undefined ? {} : { 'content-type': type }),
        },
        body,
      });
      expect(anthropic.status).toBe(415);
      expect(JSON.parse(anthropic.body)).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    }
    expect(gw.fake.count()).toBe(calls);
    // Not counted as a request of any kind: refused before the body was read.
    expect(gw.proxy.counters.text()).toBe(before);

    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON ; charset=UTF-8',
    ]) {
      const reply = await send(gw, '/v1/chat/completions', {
        headers: { 'content-type': type },
        body: chatBody(`typed ${type}`),
      });
      expect(reply.status, type).toBe(200);
      expect(reply.headers['x-strata-cache']).toBe('miss');
    }
    expect(gw.fake.count()).toBe(calls + 3);
  });

  it('leaves the content type of pass-through routes to the upstream', async () => {
    const calls = gw.fake.count('/v1/files');
    const reply = await send(gw, '/v1/files', {
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x--',
    });
    expect(JSON.parse(reply.body).error.message).toBe('body must be JSON'); // the fake's words: forwarded
    expect(gw.fake.count('/v1/files')).toBe(calls + 1);
  });

  it('refuses every request carrying an Origin (none is listed) with 403, and sends nothing upstream', async () => {
    const calls = gw.fake.count();
    const { port } = new URL(gw.url);
    for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${port}`, APP, '']) {
      for (const [path, o] of [
        ['/v1/chat/completions', { headers: { ...JSON_TYPE, origin }, body: chatBody('cross-site') }],
        ['/v1/chat/completions', { headers: { 'content-type': 'text/plain', origin }, body: chatBody('x') }],
        ['/v1/models', { headers: { origin } }],
        [
          '/v1/chat/completions',
          {
            method: 'OPTIONS',
            headers: { origin, 'access-control-request-method': 'POST' },
          },
        ],
      ] as const) {
        const reply = await send(gw, path, o);
        expect(reply.status, `${origin} ${path}`).toBe(403);
        expect(corsOf(reply)).toEqual({});
        expect(JSON.parse(reply.body).error.message).toMatch(/proxy\.cors\.origins/);
      }
    }
    // In Anthropic's shape for Anthropic's SDK.
    const anthropic = await send(gw, '/v1/messages', {
      headers: { ...JSON_TYPE, 'anthropic-version': '2023-06-01', origin: 'https://evil.example' },
      body: chatBody('q'),
    });
    expect(JSON.parse(anthropic.body)).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(gw.fake.count()).toBe(calls);
  });

  it('refuses a cross-site or same-site request without Origin (no-cors GET, navigation), not a direct one', async () => {
    const calls = gw.fake.count();
    for (const site of ['cross-site', 'same-site', 'Cross-Site']) {
      const get = await send(gw, '/v1/models', { headers: { 'sec-fetch-site': site } });
      expect(get.status, site).toBe(403);
      const post = await send(gw, '/v1/chat/completions', {
        headers: { ...JSON_TYPE, 'sec-fetch-site': site },
        body: chatBody('navigation'),
      });
      expect(post.status, site).toBe(403);
    }
    expect(gw.fake.count()).toBe(calls);
    // Typed in the address bar (none), or a page of the gateway's own origin: no other site involved.
    for (const site of ['none', 'same-origin']) {
      expect((await send(gw, '/v1/models', { headers: { 'sec-fetch-site': site } })).status, site).toBe(200);
    }
    expect(gw.fake.count()).toBe(calls + 2);
  });

  it('says Vary: Origin on every answer, since every answer depends on it', async () => {
    const replies = [
      await send(gw, '/v1/chat/completions', { headers: JSON_TYPE, body: chatBody('vary') }),
      await send(gw, '/v1/chat/completions', { headers: JSON_TYPE, body: chatBody('vary') }),
      await send(gw, '/v1/models'),
      await send(gw, '/v1/models', { headers: { origin: 'https://evil.example' } }),
      await send(gw, '/v1/chat/completions', { headers: { 'content-type': 'text/plain' }, body: '{}' }),
    ];
    expect(replies.map((r) => r.headers['x-strata-cache'])).toEqual([
      'miss',
      'hit',
      'bypass',
      'bypass',
      'bypass',
    ]);
    for (const reply of replies) expect(varyNames(reply)).toContain('origin');
  });
});

describe('gateway with listed origins', () => {
  let gw: TestGateway;
  let fake: FakeLlm;
  /** An upstream for /v1/files that answers as public APIs do: CORS open to any page. */
  let open: http.Server;
  let openCalls = 0;
  beforeAll(async () => {
    open = http.createServer((_req, res) => {
      openCalls++;
      res.writeHead(200, {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
        'access-control-allow-credentials': 'true',
        'access-control-expose-headers': 'x-secret',
        vary: 'Accept-Encoding',
      });
      res.end('{"object":"list","data":[]}');
    });
    await new Promise<void>((resolve) => open.listen(0, '127.0.0.1', resolve));
    fake = await startFakeLlm();
    gw = await startGateway({
      fake,
      proxy: {
        cors: { origins: [APP, 'https://other.example'] },
        upstreams: [
          {
            url: `http://127.0.0.1:${(open.address() as AddressInfo).port}`,
            api: 'openai',
            match: { path: '/v1/files' },
          },
          { url: fake.url, api: 'openai' },
          { url: fake.url, api: 'anthropic' },
        ],
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.close();
    await new Promise((resolve) => open?.close(resolve));
  });

  it('answers a listed origin’s preflight itself, with the requested headers reflected, and forwards nothing', async () => {
    const calls = gw.fake.count();
    const before = openCalls;
    const sdkHeaders =
      'authorization,content-type,openai-organization,x-stainless-arch,x-stainless-retry-count,x-strata-token';
    for (const path of ['/v1/chat/completions', '/v1/files', '/v1/messages']) {
      const reply = await send(gw, path, {
        method: 'OPTIONS',
        headers: {
          origin: APP,
          'access-control-request-method': 'POST',
          'access-control-request-headers': sdkHeaders,
        },
      });
      expect(reply.status, path).toBe(204);
      expect(reply.body).toBe('');
      expect(corsOf(reply)).toEqual({
        'access-control-allow-origin': APP,
        'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE',
        'access-control-allow-headers': sdkHeaders.split(',').join(', '),
        'access-control-max-age': '7200',
      });
      expect(varyNames(reply)).toContain('origin');
    }
    // Anthropic's browser opt-in header, and Chromium's Private Network Access question.
    const anthropic = await send(gw, '/v1/messages', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://other.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers':
          'anthropic-dangerous-direct-browser-access,anthropic-version,x-api-key',
        'access-control-request-private-network': 'true',
      },
    });
    expect(anthropic.status).toBe(204);
    expect(corsOf(anthropic)).toMatchObject({
      'access-control-allow-origin': 'https://other.example',
      'access-control-allow-headers':
        'anthropic-dangerous-direct-browser-access, anthropic-version, x-api-key',
      'access-control-allow-private-network': 'true',
    });
    // Not a list of header names: no preflight answer a browser could act on.
    const bad = await send(gw, '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: {
        origin: APP,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'a b',
      },
    });
    expect(bad.status).toBe(400);
    expect(corsOf(bad)).toEqual({});
    // An unlisted origin, or a listed one with a foreign Host, gets no preflight answer.
    const unlisted = await send(gw, '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example:5174', 'access-control-request-method': 'POST' },
    });
    expect(unlisted.status).toBe(403);
    expect(corsOf(unlisted)).toEqual({});
    const rebound = await send(gw, '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { host: 'app.example:5173', origin: APP, 'access-control-request-method': 'POST' },
    });
    expect(rebound.status).toBe(421);
    expect(gw.fake.count()).toBe(calls);
    expect(openCalls).toBe(before);
  });

  it('gives the origin the same CORS headers on a miss, a hit, streams, a bypass, pass-through and errors', async () => {
    const cors = { 'access-control-allow-origin': APP, 'access-control-expose-headers': '*' };
    const headers = { ...JSON_TYPE, origin: APP };
    const cases: Array<[string, string | undefined, Promise<Reply>]> = [];
    const add = (label: string, cache: string | undefined, reply: Promise<Reply>) =>
      cases.push([label, cache, reply]);
    const first = await send(gw, '/v1/chat/completions', { headers, body: chatBody('cors question') });
    add('miss', 'miss', Promise.resolve(first));
    add('hit', 'hit', send(gw, '/v1/chat/completions', { headers, body: chatBody('cors question') }));
    add(
      'stream miss',
      'miss',
      send(gw, '/v1/chat/completions', { headers, body: chatBody('cors stream', { stream: true }) }),
    );
    await cases.at(-1)![2];
    add(
      'stream hit',
      'hit',
      send(gw, '/v1/chat/completions', { headers, body: chatBody('cors stream', { stream: true }) }),
    );
    add(
      'bypass',
      'bypass',
      send(gw, '/v1/chat/completions', {
        headers: { ...headers, 'cache-control': 'no-cache, no-store' },
        body: chatBody('cors bypass'),
      }),
    );
    add(
      'upstream error',
      'miss',
      send(gw, '/v1/chat/completions', { headers, body: chatBody('[fail:500]') }),
    );
    add(
      'gateway error',
      'bypass',
      send(gw, '/v1/chat/completions', { headers, body: JSON.stringify({ messages: [] }) }),
    );
    add(
      'unsupported type',
      'bypass',
      send(gw, '/v1/chat/completions', {
        headers: { origin: APP, 'content-type': 'text/plain' },
        body: '{}',
      }),
    );
    add('pass-through', 'bypass', send(gw, '/v1/models', { headers: { origin: APP } }));
    add('pass-through, CORS-open upstream', 'bypass', send(gw, '/v1/files', { headers: { origin: APP } }));
    add(
      'anthropic',
      'miss',
      send(gw, '/v1/messages', {
        headers: { ...headers, 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({
          model: 'claude-x',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      }),
    );
    const statuses: number[] = [];
    for (const [label, cache, pending] of cases) {
      const reply = await pending;
      statuses.push(reply.status);
      expect(corsOf(reply), label).toEqual(cors);
      expect(varyNames(reply), label).toContain('origin');
      expect(reply.headers['x-strata-cache'], label).toBe(cache);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 500, 400, 415, 200, 200, 200]);
    // The stream hit was a replay of events, not the JSON.
    const streamed = await cases[3]![2];
    expect(streamed.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(streamed.body).toMatch(/data: \[DONE\]/);
    // The open upstream's own CORS answer never reaches the client; its Vary does, with Origin.
    const files = await cases[9]![2];
    expect(files.headers.vary).toBe('Accept-Encoding, Origin');
  });

  it('allows each listed origin exactly: its own allow-origin, never another, never a prefix or variant', async () => {
    const other = await send(gw, '/v1/models', { headers: { origin: 'https://other.example' } });
    expect(other.headers['access-control-allow-origin']).toBe('https://other.example');
    const calls = gw.fake.count();
    for (const origin of [
      'http://app.example',
      'https://app.example:5173',
      'http://app.example:5173/',
      'http://app.example:51730',
      'HTTP://APP.EXAMPLE:5173',
      'http://sub.app.example:5173',
      `${APP}, https://other.example`,
    ]) {
      const reply = await send(gw, '/v1/models', { headers: { origin } });
      expect(reply.status, origin).toBe(403);
      expect(corsOf(reply), origin).toEqual({});
    }
    expect(gw.fake.count()).toBe(calls);
  });

  it('without an Origin, passes on no CORS header at all, even the upstream’s `*` (what let any page read answers)', async () => {
    const files = await send(gw, '/v1/files');
    expect(files.status).toBe(200);
    expect(corsOf(files)).toEqual({});
    const chat = await send(gw, '/v1/chat/completions', {
      headers: JSON_TYPE,
      body: chatBody('server-side'),
    });
    expect(chat.status).toBe(200);
    expect(corsOf(chat)).toEqual({});
  });
});

describe('gateway with client tokens', () => {
  const running: TestGateway[] = [];
  afterAll(async () => {
    for (const gw of running.splice(0)) await gw.close();
  });

  it('on loopback, still checks Host even for a request with a valid token; answers preflights without one', async () => {
    const gw = await startGateway({ proxy: { clientTokens: [TOKEN], cors: { origins: [APP] } } });
    running.push(gw);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await send(gw, '/v1/models', { headers: auth })).status).toBe(200);
    expect((await send(gw, '/v1/models', { headers: { ...auth, host: 'attacker.example' } })).status).toBe(
      421,
    );
    const preflight = await send(gw, '/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    // Without its token the page is refused, and can read why.
    const anonymous = await send(gw, '/v1/chat/completions', {
      headers: { ...JSON_TYPE, origin: APP },
      body: chatBody('no token'),
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['access-control-allow-origin']).toBe(APP);
  });

  it('beyond loopback (0.0.0.0), accepts any Host, as its names cannot be known, but still wants the token and a listed origin', async () => {
    const gw = await startGateway({ proxy: { host: '0.0.0.0', clientTokens: [TOKEN] } });
    running.push(gw);
    const calls = gw.fake.count();
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const host of ['gateway.lan:8787', 'attacker.example', '192.0.2.7:8787']) {
      expect((await send(gw, '/v1/models', { headers: { ...auth, host } })).status, host).toBe(200);
      expect((await send(gw, '/v1/models', { headers: { host } })).status, host).toBe(401);
      const page = await send(gw, '/v1/models', {
        headers: { ...auth, host, origin: 'http://attacker.example' },
      });
      expect(page.status, host).toBe(403);
    }
    expect(gw.fake.count()).toBe(calls + 3);
  });
});

describe('proxy.cors config', () => {
  const withCors = (cors: unknown) =>
    ({
      tiers: [{ type: 'memory' }],
      proxy: { upstreams: [{ url: 'https://x', api: 'openai' }], ...(cors === undefined ? {} : { cors }) },
    }) as Parameters<typeof parseConfig>[0];
  const issues = (cors: unknown) => {
    try {
      parseConfig(withCors(cors));
      return [];
    } catch (error) {
      return (error as StrataConfigError).issues.map((i) => `${i.path}: ${i.message}`);
    }
  };

  it('defaults to no origin at all', () => {
    expect(parseConfig(withCors(undefined)).proxy?.cors).toEqual({ origins: [] });
    expect(parseConfig(withCors({})).proxy?.cors).toEqual({ origins: [] });
  });

  it('keeps origins as browsers send them', () => {
    const origins = [
      'http://localhost:5173',
      'https://App.Example.com:443',
      'http://[::1]:3000',
      'https://bücher.example',
      'chrome-extension://abcdefghijklmnop',
    ];
    expect(parseConfig(withCors({ origins })).proxy?.cors.origins).toEqual([
      'http://localhost:5173',
      'https://app.example.com',
      'http://[::1]:3000',
      'https://xn--bcher-kva.example',
      'chrome-extension://abcdefghijklmnop',
    ]);
  });

  it('refuses what is not one exact origin, naming the field', () => {
    expect(issues({ origins: ['*'] })).toEqual([
      expect.stringMatching(/^proxy\.cors\.origins\[0\]: must be an exact origin, not \*/),
    ]);
    expect(issues({ origins: ['https://ok.example', 'null'] })).toEqual([
      expect.stringMatching(/^proxy\.cors\.origins\[1\]: null cannot be allowed/),
    ]);
    for (const bad of [
      'https://app.example.com/',
      'https://app.example.com/path',
      'https://app.example.com?q',
      'app.example.com',
      'https://user@app.example.com',
      'https://app.example.com:99999',
      'file:///home/me/page.html',
      'https://*.example.com',
      '',
    ]) {
      expect(issues({ origins: [bad] }), bad).toEqual([
        expect.stringMatching(/^proxy\.cors\.origins\[0\]: must be an origin/),
      ]);
    }
    expect(issues({ origins: 'https://app.example.com' })[0]).toMatch(/^proxy\.cors\.origins:/);
    expect(issues({ origins: [], methods: ['GET'] })[0]).toMatch(/^proxy\.cors.*methods/);
  });
});

describe('clientHeaders', () => {
  it("drops the upstream's CORS headers and adds Origin to its Vary once", () => {
    const out = clientHeaders(
      {
        'content-type': 'application/json',
        'access-control-allow-origin': '*',
        'access-control-allow-credentials': 'true',
        'access-control-allow-headers': '*',
        'x-request-id': 'req_1',
        vary: 'Accept-Encoding',
      },
      false,
    );
    expect(out).toEqual({
      'content-type': 'application/json',
      'x-request-id': 'req_1',
      vary: 'Accept-Encoding, Origin',
    });
    expect(clientHeaders({ vary: ['Accept-Encoding', 'origin'] }, false).vary).toBe(
      'Accept-Encoding, origin',
    );
    expect(clientHeaders({ vary: '*' }, false).vary).toBe('*');
  });
});
