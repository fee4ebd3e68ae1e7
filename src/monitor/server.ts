/**
 * The HTTP face of a monitor (`strata serve`): /metrics (Prometheus), /health (200, or 503 when
 * a tier is down), /api/stats, /api/alerts, /api/series?range=15m|1h|24h|7d, /api/panels, and
 * the dashboard at /. Every route
 * answers GET and HEAD (same status and headers, no body).
 *
 * A token is required to listen anywhere but loopback; when one is set (or several: `tokens`, the
 * gateway's client tokens), every data route wants `Authorization: Bearer <token>` (scheme in any
 * case, token compared in constant time). The
 * dashboard page itself holds no data, so it is served without the header; it reads the token
 * from the URL fragment (`/#token=...`, never sent to the server) and sends it with its API calls.
 *
 * DNS rebinding: a web page on an attacker's domain can point that domain at 127.0.0.1 and then
 * read this server's answers from the victim's browser as "same origin". The browser still sends
 * the attacker's name in `Host`, so a request whose Host is not one of this server's own names
 * (the bound address, or localhost / 127.0.0.1 / [::1], each with the port; or a name given in
 * `allowedHosts`) is refused with 421 before any route runs, the dashboard included.
 *
 * Bound to a wildcard address (0.0.0.0 or ::), the server's names cannot be known (any address
 * of the machine, any DNS name, a proxy's name), so every Host is accepted there. That is safe
 * because a token is then mandatory: a rebinding page can load the dashboard (which holds no
 * data) but cannot read any data route, since browsers never attach an `Authorization: Bearer`
 * header by themselves (unlike cookies or Basic credentials), and the page cannot learn the
 * token, which lives only in the fragment of the real origin's URL.
 *
 * Every response, errors included, carries `X-Content-Type-Options: nosniff`, `Cache-Control:
 * no-store` and a Content-Security-Policy: `default-src 'none'` for data, and for the dashboard
 * one that lets only its own inline script run (by sha256 hash), its inline styles apply and
 * its fetches go to this origin.
 */
import http from 'node:http';
import type { HealthReport, StatsReport } from '../core/reports.js';
import { ServeConfigError } from '../errors.js';
import { tokenAuth } from '../http/auth.js';
import { bindHost, hostProblem, isLoopback, isWildcard } from '../http/bind-host.js';
import { hostCheck } from '../http/host-check.js';
import { listen, stop } from '../http/server.js';
import { boundOf } from './bound.js';
import { type DashboardPage, dashboardPage } from './dashboard.js';
import { SERIES_RANGES, type SeriesRange } from './history.js';
import type { Monitor } from './index.js';
import { OTHER } from './insights.js';

const isRange = (value: string): value is SeriesRange => (SERIES_RANGES as readonly string[]).includes(value);

export interface ServeOptions {
  /** A name or an address; IPv6 with or without brackets (`::1`, `[::1]`). */
  host: string;
  port: number;
  token?: string;
  /** More accepted tokens, any of which opens the data routes (the gateway's client tokens). */
  tokens?: readonly string[];
  /**
   * Show namespaces without their names: `/api/stats` and `/api/panels` label them `namespace 1`,
   * `namespace 2`, ... by rank. The gateway sets it on a monitor that has no token, whose
   * namespaces are its tenants (credential digests, header values): see createProxy.
   */
  hideNamespaces?: boolean;
  /**
   * More names (with or without `:port`) accepted in the Host header, e.g. the DNS name a
   * reverse proxy or Prometheus uses; see the DNS-rebinding note above.
   */
  allowedHosts?: string[];
}

/** For JSON, text and errors: nothing may load, nothing may frame it. */
const DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * For the dashboard: its one inline script by hash (no other script, inline or not), its inline
 * `<style>` and the `style="..."` attributes it writes (legend colours), API calls to this origin.
 */
export const dashboardCsp = (page: DashboardPage) =>
  [
    "default-src 'none'",
    `script-src ${page.scriptHashes.join(' ') || "'none'"}`,
    "style-src 'unsafe-inline'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');

/** What the server reads of the cache itself (the rest comes from the monitor): its health. */
export interface HealthSource {
  health(): Promise<HealthReport>;
}

export async function startServer(
  cache: HealthSource,
  monitor: Monitor,
  options: ServeOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const problem = hostProblem(options.host);
  if (problem) throw new ServeConfigError(`host ${JSON.stringify(options.host)}: ${problem}`);
  const bind = bindHost(options.host);
  const tokens = [...(options.token ? [options.token] : []), ...(options.tokens ?? [])];
  if (tokens.length === 0 && !isLoopback(bind)) {
    throw new ServeConfigError(
      `refusing to listen on ${options.host} without a token: give --token or STRATA_TOKEN (or listen on 127.0.0.1)`,
    );
  }
  const authorized = tokenAuth(tokens);
  const hidden = options.hideNamespaces === true;
  // Filled in once listening, when the port is known (port 0 picks one).
  let hostAllowed: (host: string | undefined) => boolean = () => false;
  let ownUrl = '';

  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string, headers: http.OutgoingHttpHeaders = {}) => {
      res.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': DATA_CSP,
        'referrer-policy': 'no-referrer',
        ...headers,
      });
      // For HEAD, Node sends the headers (content-length included) and drops the body.
      res.end(body);
    };
    const json = (status: number, value: unknown, headers?: http.OutgoingHttpHeaders) =>
      send(status, 'application/json', JSON.stringify(value), headers);

    if (!hostAllowed(req.headers.host)) {
      return send(421, 'text/plain; charset=utf-8', `misdirected request: unknown Host; use ${ownUrl}/\n`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return json(405, { error: 'GET and HEAD only' }, { allow: 'GET, HEAD' });
    }
    const url = new URL(req.url ?? '/', 'http://strata');
    const path = url.pathname;
    if (path === '/') {
      // Assembled on first use when run from src/; a broken install answers 500, not a crash.
      let page: DashboardPage;
      try {
        page = dashboardPage();
      } catch (error) {
        return send(500, 'text/plain; charset=utf-8', `${(error as Error).message}\n`);
      }
      return send(200, 'text/html; charset=utf-8', page.html, {
        'content-security-policy': dashboardCsp(page),
      });
    }
    if (!authorized(req.headers.authorization)) {
      return json(401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': 'Bearer' });
    }
    const route = async () => {
      switch (path) {
        case '/metrics':
          return send(200, monitor.contentType, await monitor.metrics({ hideNamespaces: hidden }));
        case '/health': {
          const health = await cache.health();
          return json(health.status === 'down' ? 503 : 200, health);
        }
        case '/api/stats': {
          // ?by=process adds each reporting process's own counters (fleet mode).
          const report = await monitor.report({ byProcess: url.searchParams.get('by') === 'process' });
          const stats = hidden ? withoutNamespaceNames(report.stats) : report.stats;
          return json(200, { ...report, stats, fleet: monitor.fleet });
        }
        case '/api/alerts':
          return json(200, { active: monitor.alerts.active(), recent: monitor.alerts.recent() });
        case '/api/series': {
          const range = url.searchParams.get('range') ?? '15m';
          if (!isRange(range))
            return json(400, { error: `range: must be one of ${SERIES_RANGES.join(', ')}` });
          return json(200, await monitor.series(range));
        }
        case '/api/panels': {
          const panels = await monitor.panels({ hideNamespaces: hidden });
          return json(200, hidden ? { ...panels, namespaces: anonymousRows(panels.namespaces) } : panels);
        }
        default:
          return json(404, { error: `no route ${path}` });
      }
    };
    route().catch((error: unknown) => {
      if (!res.headersSent) json(500, { error: (error as Error).message });
      else res.destroy();
    });
  });
  const { port, url } = await listen(server, options.port, bind);
  ownUrl = url;
  // Any Host on a wildcard address: see the DNS-rebinding note at the top (the token guards every data route).
  hostAllowed = hostCheck({
    bound: bind,
    port,
    anyHost: tokens.length > 0 && isWildcard(bind),
    allowedHosts: options.allowedHosts,
  });
  return {
    url: ownUrl,
    close: () => stop(server),
  };
}

/** Rows ranked as given, named by rank instead of by namespace; `(other)` stays a bucket. */
function anonymousRows<T extends { name: string }>(rows: readonly T[]): T[] {
  let rank = 0;
  return rows.map((r) => (r.name === OTHER ? r : { ...r, name: `namespace ${++rank}` }));
}

/** Per-namespace figures a tier reports (entries, bytes), keyed by rank of their value instead of by name. */
const NAMESPACE_MAPS = ['namespaces', 'bytesByNamespace'];

function withoutNamespaceNames(stats: StatsReport): StatsReport {
  return {
    ...stats,
    tiers: stats.tiers.map((t) => {
      if (!t.store) return t;
      const store = { ...t.store };
      // A semantic tier's error bound per namespace, ranked by lookups (bound.ts).
      const bound = boundOf(store);
      if (bound) {
        const ranked = Object.values(bound).sort((a, b) => (b.lookups ?? 0) - (a.lookups ?? 0));
        store.bound = Object.fromEntries(ranked.map((b, i) => [`namespace ${i + 1}`, b]));
      }
      for (const field of NAMESPACE_MAPS) {
        const map = store[field] as Record<string, number> | undefined;
        if (typeof map !== 'object') continue;
        const ranked = Object.values(map).sort((a, b) => b - a);
        store[field] = Object.fromEntries(ranked.map((n, i) => [`namespace ${i + 1}`, n]));
      }
      return { ...t, store };
    }),
  };
}
