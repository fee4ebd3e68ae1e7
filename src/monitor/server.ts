/**
 * The HTTP face of a monitor (`strata serve`): /metrics (Prometheus), /health (200, or 503 when
 * a tier is down), /api/stats, /api/alerts, /api/series, and the dashboard at /.
 *
 * A token is required to listen anywhere but loopback; when one is set, every data route wants
 * `Authorization: Bearer <token>` (compared in constant time). The dashboard page itself holds
 * no data, so it is served without the header; it reads the token from the URL fragment
 * (`/#token=...`, never sent to the server) and sends it with its API calls.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StrataCache } from '../langchain/cache.js';
import { DASHBOARD_HTML } from './dashboard.js';
import type { Monitor } from './index.js';

export interface ServeOptions {
  host: string;
  port: number;
  token?: string;
}

export class ServeConfigError extends Error {}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export async function startServer(
  cache: StrataCache,
  monitor: Monitor,
  options: ServeOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  if (!options.token && !isLoopback(options.host)) {
    throw new ServeConfigError(
      `refusing to listen on ${options.host} without a token: give --token or STRATA_TOKEN (or listen on 127.0.0.1)`,
    );
  }
  const expected = options.token ? Buffer.from(`Bearer ${options.token}`) : undefined;
  const authorized = (req: http.IncomingMessage) => {
    if (!expected) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://strata').pathname;
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const json = (status: number, value: unknown) => send(status, 'application/json', JSON.stringify(value));
    if (req.method !== 'GET') return json(405, { error: 'GET only' });
    if (path === '/') return send(200, 'text/html; charset=utf-8', DASHBOARD_HTML);
    if (!authorized(req)) {
      res.setHeader('www-authenticate', 'Bearer');
      return json(401, { error: 'missing or wrong bearer token' });
    }
    const route = async () => {
      switch (path) {
        case '/metrics':
          return send(200, monitor.contentType, await monitor.metrics());
        case '/health': {
          const health = await cache.health();
          return json(health.status === 'down' ? 503 : 200, health);
        }
        case '/api/stats':
          return json(200, { stats: await cache.stats(), savings: monitor.savings.report() });
        case '/api/alerts':
          return json(200, { active: monitor.alerts.active(), recent: monitor.alerts.recent() });
        case '/api/series':
          return json(200, monitor.series());
        default:
          return json(404, { error: `no route ${path}` });
      }
    };
    route().catch((error: unknown) => json(500, { error: (error as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
