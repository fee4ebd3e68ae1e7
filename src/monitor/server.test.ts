/**
 * `strata serve` over real HTTP (node:http requests, so the Host header can be anything): Host
 * checks against DNS rebinding, the bearer scheme in any case, security headers on every
 * response, and HEAD on every GET route.
 */
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { type RawReply, rawRequest } from '../../test/support/raw-http.js';
import { hostForms } from '../http/host-check.js';
import { createCache } from '../langchain/create.js';
import { dashboardPage } from './dashboard.js';
import { createMonitor, type Monitor } from './index.js';
import { dashboardCsp, type ServeOptions, startServer } from './server.js';

const quiet = { warn: () => {} };
const GET_ROUTES = ['/', '/metrics', '/health', '/api/stats', '/api/alerts', '/api/series', '/api/panels'];

type Reply = RawReply;

/** One request to 127.0.0.1:port with exactly these headers (Host included). */
function request(
  port: number,
  path: string,
  options: { method?: string; host?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return rawRequest(port, path, {
    method: options.method ?? 'GET',
    headers: { host: options.host ?? `127.0.0.1:${port}`, ...options.headers },
  });
}

const running: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of running.splice(0)) await stop();
});

async function serve(options: ServeOptions, wrap: (m: Monitor) => Monitor = (m) => m) {
  const cache = await createCache({ tiers: [{ type: 'memory' }] }, { logger: quiet });
  const monitor = createMonitor(cache);
  const server = await startServer(cache, wrap(monitor), options);
  running.push(async () => {
    await server.close();
    monitor.close();
    await cache.close();
  });
  return { server, port: Number(new URL(server.url).port) };
}

function expectSecurityHeaders(reply: Reply) {
  expect(reply.headers['x-content-type-options']).toBe('nosniff');
  const csp = reply.headers['content-security-policy'];
  expect(csp).toMatch(/default-src 'none'/);
  expect(csp).toMatch(/frame-ancestors 'none'/);
}

describe('strata serve: Host header (DNS rebinding)', () => {
  it('on loopback without a token, answers only its own names with the port, and refuses others with 421', async () => {
    const { port } = await serve({ host: '127.0.0.1', port: 0 });
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`]) {
      expect((await request(port, '/api/stats', { host })).status, host).toBe(200);
      expect((await request(port, '/', { host })).status, host).toBe(200);
    }
    for (const host of [
      `attacker.example:${port}`,
      'attacker.example',
      'localhost',
      `localhost:${port + 1}`,
      `127.0.0.1.nip.io:${port}`,
      `0.0.0.0:${port}`,
    ]) {
      for (const path of ['/', '/api/stats', '/metrics', '/nope']) {
        const reply = await request(port, path, { host });
        expect(reply.status, `${host}${path}`).toBe(421);
        expect(reply.body).toMatch(/unknown Host/);
        expect(reply.body).not.toMatch(/"stats"|Strata cache/);
        expectSecurityHeaders(reply);
      }
    }
  });

  it('on loopback with a token, still checks Host, even for a request carrying the token', async () => {
    const { port } = await serve({ host: '127.0.0.1', port: 0, token: 'tok' });
    const auth = { authorization: 'Bearer tok' };
    expect((await request(port, '/api/stats', { headers: auth })).status).toBe(200);
    expect((await request(port, '/api/stats', { host: `evil.example:${port}`, headers: auth })).status).toBe(
      421,
    );
  });

  it('bound to 0.0.0.0 with a token, accepts any Host but still wants the token on data routes', async () => {
    const { port } = await serve({ host: '0.0.0.0', port: 0, token: 's3cret' });
    for (const host of [`attacker.example:${port}`, 'metrics.internal', `192.0.2.7:${port}`]) {
      expect((await request(port, '/', { host })).status).toBe(200); // the page holds no data
      expect((await request(port, '/api/stats', { host })).status).toBe(401);
      expect(
        (await request(port, '/api/stats', { host, headers: { authorization: 'Bearer s3cret' } })).status,
      ).toBe(200);
    }
  });

  it('accepts extra names given in allowedHosts, with or without a port', async () => {
    const { port } = await serve({
      host: '127.0.0.1',
      port: 0,
      allowedHosts: ['strata.internal', 'proxy:8443'],
    });
    expect((await request(port, '/health', { host: `strata.internal:${port}` })).status).toBe(200);
    expect((await request(port, '/health', { host: 'proxy:8443' })).status).toBe(200);
    expect((await request(port, '/health', { host: 'strata.internal' })).status).toBe(421);
    expect((await request(port, '/health', { host: `proxy:${port}` })).status).toBe(421);
  });

  it('hostForms brackets IPv6 addresses and keeps a given port', () => {
    expect(hostForms('LOCALHOST', 9464)).toEqual(['localhost:9464']);
    expect(hostForms('::1', 9464)).toEqual(['[::1]:9464']);
    expect(hostForms('[::1]', 9464)).toEqual(['[::1]:9464']);
    expect(hostForms('[::1]:80', 9464)).toEqual(['[::1]:80']);
    expect(hostForms('fe80::1', 9464)).toEqual(['[fe80::1]:9464']);
    expect(hostForms('proxy:8443', 9464)).toEqual(['proxy:8443']);
    expect(hostForms('localhost', 80)).toEqual(['localhost:80', 'localhost']);
  });
});

describe('strata serve: bearer token', () => {
  it('takes the Bearer scheme in any case, and nothing but the exact token', async () => {
    const { port } = await serve({ host: '127.0.0.1', port: 0, token: 's3cret' });
    for (const authorization of ['Bearer s3cret', 'bearer s3cret', 'BEARER s3cret', 'bEaReR   s3cret']) {
      expect((await request(port, '/api/alerts', { headers: { authorization } })).status, authorization).toBe(
        200,
      );
    }
    for (const authorization of [
      'Bearer s3cre',
      'Bearer s3cret2',
      'Bearer S3CRET',
      'Basic s3cret',
      's3cret',
      'Bearer',
    ]) {
      const reply = await request(port, '/api/alerts', { headers: { authorization } });
      expect(reply.status, authorization).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
    }
  });
});

describe('strata serve: response headers', () => {
  it('sends nosniff and a CSP on every response: data, errors, 401, 404, 405 and 500', async () => {
    const failing = (m: Monitor): Monitor => ({
      alerts: m.alerts,
      stats: m.stats,
      report: (o) => m.report(o),
      fleet: m.fleet,
      contentType: m.contentType,
      metrics: () => Promise.reject(new Error('registry broke')),
      series: (range) => m.series(range),
      panels: () => m.panels(),
      close: () => m.close(),
    });
    const { port } = await serve({ host: '127.0.0.1', port: 0, token: 'tok' }, failing);
    const auth = { authorization: 'Bearer tok' };
    const cases: Array<[number, Promise<Reply>]> = [
      [200, request(port, '/')],
      [200, request(port, '/health', { headers: auth })],
      [200, request(port, '/api/stats', { headers: auth })],
      [200, request(port, '/api/alerts', { headers: auth })],
      [200, request(port, '/api/series', { headers: auth })],
      [200, request(port, '/api/series?range=7d', { headers: auth })],
      [400, request(port, '/api/series?range=2w', { headers: auth })],
      [200, request(port, '/api/panels', { headers: auth })],
      [401, request(port, '/api/stats')],
      [404, request(port, '/nope', { headers: auth })],
      [405, request(port, '/', { method: 'POST' })],
      [500, request(port, '/metrics', { headers: auth })],
    ];
    for (const [status, pending] of cases) {
      const reply = await pending;
      expect(reply.status).toBe(status);
      expectSecurityHeaders(reply);
      expect(reply.headers['cache-control']).toBe('no-store');
    }
    expect((await request(port, '/', { method: 'DELETE' })).headers.allow).toBe('GET, HEAD');
  });

  it("gives the dashboard a CSP that runs only its own inline script (by hash) and fetches only from 'self'", async () => {
    const { port } = await serve({ host: '127.0.0.1', port: 0 });
    const page = await request(port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toBe(dashboardPage().html);
    const csp = page.headers['content-security-policy'];
    expect(csp).toBe(dashboardCsp(dashboardPage()));
    const directives = new Map(
      String(csp)
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values]),
    );
    const scripts = [...page.body.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
    expect(scripts).toHaveLength(1);
    const hash = `'sha256-${createHash('sha256').update(scripts[0]!).digest('base64')}'`;
    expect(directives.get('script-src')).toEqual([hash]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('style-src')).toEqual(["'unsafe-inline'"]);
  });
});

describe('strata serve: HEAD', () => {
  it('answers HEAD on every GET route with the same status and headers and no body', async () => {
    const { port } = await serve({ host: '127.0.0.1', port: 0, token: 'tok' });
    const auth = { authorization: 'Bearer tok' };
    for (const path of [...GET_ROUTES, '/nope']) {
      const get = await request(port, path, { headers: auth });
      const head = await request(port, path, { method: 'HEAD', headers: auth });
      expect(head.status, path).toBe(get.status);
      expect(head.body, path).toBe('');
      for (const name of [
        'content-type',
        'content-security-policy',
        'x-content-type-options',
        'cache-control',
      ]) {
        expect(head.headers[name], `${path} ${name}`).toBe(get.headers[name]);
      }
      expect(Number(head.headers['content-length']), path).toBeGreaterThan(0);
    }
    // The dashboard is static, so its length matches exactly.
    const head = await request(port, '/', { method: 'HEAD' });
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(dashboardPage().html));
    // HEAD is checked like GET: token and Host.
    expect((await request(port, '/api/stats', { method: 'HEAD' })).status).toBe(401);
    expect((await request(port, '/', { method: 'HEAD', host: 'evil.example' })).status).toBe(421);
  });
});
