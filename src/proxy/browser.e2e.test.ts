/// <reference lib="dom" />
/**
 * The gateway against a real browser (headless Chromium): a page served from another site tries
 * what any web page can do to a gateway on the operator's machine (a no-cors text/plain fetch,
 * a CORS fetch of JSON with a key, a text/plain form POST, a no-cors GET). None may reach the
 * upstream or let the page read an answer. With the page's origin in `proxy.cors.origins`, the
 * same page reads answers, and a repeat is a hit carrying the same CORS headers as the miss.
 *
 * Chromium resolves *.example to 127.0.0.1 (--host-resolver-rules), so the page's origin is
 * http://attacker.example:<port> or http://app.example:<port>: another site than the gateway's.
 * The upstream answers browsers as public APIs do, CORS open to any page (`*`), as in the report.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page, type Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.js';
import { chromiumPath } from '../../test/support/services.js';
import { createProxy, type StrataProxy } from './index.js';

// At collection time, not inside the test: a fresh machine installs chromium here (minutes).
const executablePath = chromiumPath();

const PAGE = `<!doctype html><meta charset="utf-8"><title>some page</title>
<iframe name="sink"></iframe>`;

let fake: FakeLlm;
/** The fake LLM behind a front that opens CORS to every page; counts every request, preflights too. */
let upstream: http.Server;
let upstreamCalls = 0;
let pages: http.Server;
let pagePort: number;
let browser: Browser;

beforeAll(async () => {
  fake = await startFakeLlm();
  const fakeUrl = new URL(fake.url);
  upstream = http.createServer((req, res) => {
    upstreamCalls++;
    const open = {
      'access-control-allow-origin': '*',
      'access-control-allow-methods': '*',
      'access-control-allow-headers': 'authorization, content-type, *',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, open);
      res.end();
      return;
    }
    const call = http.request(
      { host: fakeUrl.hostname, port: fakeUrl.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, ...open });
        answer.pipe(res);
      },
    );
    req.pipe(call);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  pages = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pagePort = (pages.address() as AddressInfo).port;
  browser = await chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--host-resolver-rules=MAP *.example 127.0.0.1',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await fake?.close();
  await new Promise((resolve) => upstream?.close(resolve));
  await new Promise((resolve) => pages?.close(resolve));
});

const chat = (question: string) =>
  JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] });

interface Seen {
  method: string;
  path: string;
  status: number;
  origin: string | undefined;
  site: string | undefined;
}

interface Gateway {
  url: string;
  /** What the gateway was asked and answered, as it saw it: preflights and refused requests too. */
  seen: Seen[];
  close(): Promise<void>;
}

/** The gateway mounted with `handle()` in a server that records every exchange. */
async function startGateway(origins: string[]): Promise<Gateway> {
  const proxy: StrataProxy = await createProxy(
    {
      tiers: [{ type: 'memory' }],
      proxy: {
        upstreams: [{ url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, api: 'openai' }],
        cors: { origins },
      },
    },
    { logger: { warn: () => {} } },
  );
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    res.on('finish', () =>
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        status: res.statusCode,
        origin: req.headers.origin,
        site: req.headers['sec-fetch-site'] as string | undefined,
      }),
    );
    void proxy.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await proxy.close();
    },
  };
}

/** A page of `site` in a fresh browser context, and every response of the gateway it could see. */
async function openPage(site: string, gw: Gateway): Promise<{ page: Page; responses: Response[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const responses: Response[] = [];
  page.on('response', (r) => {
    if (r.url().startsWith(gw.url)) responses.push(r);
  });
  await page.goto(`http://${site}:${pagePort}/`);
  return { page, responses };
}

describe('a web page against the gateway (headless Chromium)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway([]);
  });
  afterAll(() => gw?.close());

  it('cannot reach the upstream or read an answer: no-cors text/plain, CORS JSON, a form POST, a no-cors GET', async () => {
    const calls = upstreamCalls;
    const { page, responses } = await openPage('attacker.example', gw);
    expect(await page.evaluate(() => location.origin)).toBe(`http://attacker.example:${pagePort}`);
    const results = await page.evaluate(
      async ({ gateway, body }) => {
        const attempt = async (init: RequestInit, path = '/v1/chat/completions') => {
          try {
            const res = await fetch(`${gateway}${path}`, init);
            return { type: res.type, status: res.status, text: await res.text() };
          } catch (error) {
            return { error: String(error) };
          }
        };
        return {
          // The reported attack: a simple request, no preflight, the answer thrown away or not.
          noCors: await attempt({
            method: 'POST',
            mode: 'no-cors',
            headers: { 'content-type': 'text/plain' },
            body,
          }),
          simpleCors: await attempt({ method: 'POST', headers: { 'content-type': 'text/plain' }, body }),
          // What an SDK in the page would send: preflighted, and refused there.
          json: await attempt({
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer sk-page' },
            body,
          }),
          get: await attempt({ mode: 'no-cors' }, '/v1/models'),
        };
      },
      { gateway: gw.url, body: chat('page question') },
    );
    // Opaque: status 0, no body; or a network error. Never the answer.
    expect(results.noCors).toEqual({ type: 'opaque', status: 0, text: '' });
    expect(results.simpleCors).toEqual({ error: expect.stringMatching(/TypeError/) });
    expect(results.json).toEqual({ error: expect.stringMatching(/TypeError/) });
    expect(results.get).toEqual({ type: 'opaque', status: 0, text: '' });

    // The classic JSON CSRF: a text/plain form whose one field spells out a JSON body.
    const formAnswer = page.waitForResponse(
      (r) =>
        r.url() === `${gw.url}/v1/chat/completions` &&
        r.request().method() === 'POST' &&
        r.frame().name() === 'sink',
    );
    await page.evaluate(
      ({ action }) => {
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = action;
        form.enctype = 'text/plain';
        form.target = 'sink';
        const field = document.createElement('input');
        field.name = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"form"}],"x":"';
        field.value = '"}';
        form.append(field);
        document.body.append(form);
        form.submit();
      },
      { action: `${gw.url}/v1/chat/completions` },
    );
    expect((await formAnswer).status()).toBe(403);
    // The answer landed in a frame of the gateway's origin, which the page cannot look into.
    await expect.poll(() => page.frame('sink')?.url()).toBe(`${gw.url}/v1/chat/completions`);
    expect(
      await page.evaluate(() => {
        try {
          return document.querySelector('iframe')!.contentDocument?.body.textContent ?? null;
        } catch {
          return null;
        }
      }),
    ).toBeNull();

    // Every attempt reached the gateway (the JSON one as its preflight) and was refused there.
    const origin = `http://attacker.example:${pagePort}`;
    const chatPath = '/v1/chat/completions';
    expect(gw.seen).toEqual([
      { method: 'POST', path: chatPath, status: 403, origin, site: 'cross-site' },
      { method: 'POST', path: chatPath, status: 403, origin, site: 'cross-site' },
      { method: 'OPTIONS', path: chatPath, status: 403, origin, site: 'cross-site' },
      // A no-cors GET carries no Origin: Sec-Fetch-Site is what gives it away.
      { method: 'GET', path: '/v1/models', status: 403, origin: undefined, site: 'cross-site' },
      { method: 'POST', path: chatPath, status: 403, origin, site: 'cross-site' },
    ]);
    for (const r of responses) expect(await r.headerValue('access-control-allow-origin')).toBeNull();
    expect(upstreamCalls).toBe(calls);
    await page.context().close();
  });
});

describe('a listed origin against the gateway (headless Chromium)', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway([`http://app.example:${pagePort}`]);
  });
  afterAll(() => gw?.close());

  it('reads the answer, and a repeat is a hit with the same CORS headers; other pages still cannot', async () => {
    const calls = upstreamCalls;
    const origin = `http://app.example:${pagePort}`;
    const { page, responses } = await openPage('app.example', gw);
    const ask = () =>
      page.evaluate(
        async ({ gateway, body }) => {
          const res = await fetch(`${gateway}/v1/chat/completions`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: 'Bearer sk-app',
              'x-stainless-lang': 'js',
            },
            body,
          });
          const json = await res.json();
          return {
            status: res.status,
            cache: res.headers.get('x-strata-cache'),
            requestId: res.headers.get('x-request-id'),
            content: json.choices[0].message.content as string,
          };
        },
        { gateway: gw.url, body: chat('app question') },
      );
    const miss = await ask();
    const hit = await ask();
    expect(miss).toMatchObject({ status: 200, cache: 'miss' });
    expect(miss.requestId).toMatch(/^req_/); // exposed to the page, as the SDKs read it
    expect(hit).toMatchObject({ status: 200, cache: 'hit', content: miss.content });
    expect(miss.content).toMatch(/app question/);
    expect(upstreamCalls).toBe(calls + 1);

    const posts = responses.filter((r) => r.request().method() === 'POST');
    expect(posts).toHaveLength(2);
    const corsHeaders = async (r: Response) => {
      const all = await r.allHeaders();
      return Object.fromEntries(Object.entries(all).filter(([name]) => name.startsWith('access-control-')));
    };
    const [missCors, hitCors] = await Promise.all(posts.map(corsHeaders));
    // The exact origin, not the upstream's `*`, and nothing else of the upstream's.
    expect(missCors).toEqual({
      'access-control-allow-origin': origin,
      'access-control-expose-headers': '*',
    });
    expect(hitCors).toEqual(missCors);
    // The preflight was the gateway's to answer (never forwarded), once; then the two POSTs.
    expect(gw.seen.map((e) => `${e.method} ${e.status}`)).toEqual(['OPTIONS 204', 'POST 200', 'POST 200']);
    await page.context().close();

    // The same request from a page not listed is still refused before the upstream.
    const other = await openPage('attacker.example', gw);
    const refused = await other.page.evaluate(
      async ({ gateway, body }) => {
        try {
          await fetch(`${gateway}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer sk-app' },
            body,
          });
          return 'read';
        } catch (error) {
          return String(error);
        }
      },
      { gateway: gw.url, body: chat('app question') },
    );
    expect(refused).toMatch(/TypeError/);
    expect(gw.seen.at(-1)).toMatchObject({ method: 'OPTIONS', status: 403 });
    expect(upstreamCalls).toBe(calls + 1);
    await other.page.context().close();
  });
});
