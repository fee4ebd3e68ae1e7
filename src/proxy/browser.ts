/**
 * What a web browser may do with the gateway, decided before anything else reads a request.
 *
 * The gateway spends real money: a request reaches the upstream with the operator's own key
 * (`apiKey` / `apiKeyEnv`) or the caller's tenant of cached answers, and on loopback it needs no
 * client token. Any web page the operator visits can send requests to it, so the browser's own
 * markers decide:
 *
 * - DNS rebinding: a page whose domain now resolves to the gateway's address is "same origin" to
 *   it, but its browser still sends the page's name in `Host`; the monitor's Host check
 *   (http/host-check.ts) refuses it with 421.
 * - A page's request carries `Origin` (every cross-origin fetch, every form POST), or, for a
 *   no-cors GET or a navigation, `Sec-Fetch-Site: cross-site | same-site`. Either is refused with
 *   403 unless the origin is listed in `proxy.cors.origins`; nothing is sent upstream.
 * - The cached endpoints take only `application/json` (415 otherwise, never parsed or forwarded):
 *   it is not a type a page can send without a CORS preflight, while `text/plain`, forms and
 *   bodies without a type are, and they would otherwise be parsed as JSON all the same.
 *
 * A listed origin gets a CORS answer to its preflights and the same CORS headers on every
 * response, hit, miss, bypass, pass-through, stream or error: they are set here with
 * `res.setHeader`, which Node merges into whatever `writeHead` the gateway calls later. The
 * upstream's own `access-control-*` headers never reach the client (upstream.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isLoopback } from '../http/bind-host.js';
import { hostCheck } from '../http/host-check.js';
import { sendError } from './api-error.js';
import type { ResolvedProxyConfig } from './config.js';
import type { ApiKind } from './endpoints/endpoint.js';

/** Every method the APIs behind the gateway use; a listed origin may call any route. */
const ALLOW_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
/** Chromium's ceiling for caching a preflight; every real request is checked again anyway. */
const PREFLIGHT_MAX_AGE_SECONDS = '7200';
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export class BrowserGuard {
  private readonly origins: ReadonlySet<string>;
  private readonly anyHost: boolean;
  /** By the port a request arrived on: `handle()` may be mounted in a server of the caller's. */
  private readonly hostChecks = new Map<number, (host: string | undefined) => boolean>();

  constructor(
    private readonly config: ResolvedProxyConfig,
    tokenRequired: boolean,
  ) {
    this.origins = new Set(config.cors.origins);
    // The monitor's rule, with its wildcard case widened to any address beyond loopback: the
    // gateway there is reached by names it cannot know (LAN DNS names, container port mappings)
    // and has no allowedHosts, while a client token is mandatory there (config.ts) on every
    // route, which a rebinding page never has and its browser never attaches by itself. On
    // loopback, the names are known and checked even with tokens, as the monitor does.
    this.anyHost = tokenRequired && !isLoopback(config.host);
  }

  /**
   * true when the request is answered here (refused, or a preflight) and the gateway must do
   * nothing more; otherwise the response carries the CORS headers the origin is owed.
   */
  answered(req: IncomingMessage, res: ServerResponse, api: ApiKind, cachedEndpoint: boolean): boolean {
    // Every answer depends on Origin now (refused, or allowed with its own allow-origin).
    res.setHeader('vary', 'Origin');
    const port = req.socket?.localPort ?? this.config.port;
    if (!this.hostAllowed(port)(req.headers.host)) {
      const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
      sendError(res, api, 421, `misdirected request: unknown Host; use http://${host}:${port}`);
      return true;
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (!this.origins.has(origin)) {
        sendError(
          res,
          api,
          403,
          `requests from web pages are refused unless their origin is listed in proxy.cors.origins (this one is ${JSON.stringify(origin.slice(0, 200))})`,
        );
        return true;
      }
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined)
        return this.preflight(req, res, api, origin);
      res.setHeader('access-control-allow-origin', origin);
      // The SDKs read x-request-id, retry-after, rate limits and our x-strata-* headers. `*` is
      // every header for requests without credentials, the only kind allowed (no allow-credentials).
      res.setHeader('access-control-expose-headers', '*');
    } else {
      const site = String(req.headers['sec-fetch-site'] ?? '').toLowerCase();
      if (site === 'cross-site' || site === 'same-site') {
        sendError(
          res,
          api,
          403,
          `requests from web pages are refused (Sec-Fetch-Site: ${site}, no Origin to check against proxy.cors.origins)`,
        );
        return true;
      }
    }
    if (cachedEndpoint && !isJson(req.headers['content-type'])) {
      sendError(
        res,
        api,
        415,
        `Content-Type must be application/json (got ${JSON.stringify(String(req.headers['content-type'] ?? 'none').slice(0, 100))})`,
      );
      return true;
    }
    return false;
  }

  /** A listed origin's preflight: answered here, never forwarded, no token (browsers send none). */
  private preflight(req: IncomingMessage, res: ServerResponse, api: ApiKind, origin: string): true {
    const method = String(req.headers['access-control-request-method']);
    const requested = String(req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h.length > 0);
    if (!TOKEN.test(method) || !requested.every((h) => TOKEN.test(h))) {
      sendError(res, api, 400, 'a preflight must name a method and header names');
      return true;
    }
    const headers: Record<string, string> = {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': ALLOW_METHODS,
      'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
      vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      'content-length': '0',
    };
    // The requested names, reflected: the SDKs send more of their own with every release
    // (x-stainless-*, openai-*, anthropic-*), and a listed origin may send any header anyway.
    if (requested.length > 0) headers['access-control-allow-headers'] = requested.join(', ');
    // Chromium's Private Network Access asks before a public page calls a loopback or LAN address.
    if (String(req.headers['access-control-request-private-network']).toLowerCase() === 'true')
      headers['access-control-allow-private-network'] = 'true';
    res.writeHead(204, headers);
    res.end();
    return true;
  }

  private hostAllowed(port: number): (host: string | undefined) => boolean {
    let check = this.hostChecks.get(port);
    if (!check) {
      check = hostCheck({ bound: this.config.host, port, anyHost: this.anyHost });
      this.hostChecks.set(port, check);
    }
    return check;
  }
}

/**
 * `application/json`, with any parameters (`; charset=utf-8`). Not `application/*+json`: no SDK
 * sends it, the APIs document only application/json, and the rule stays one a reader can check.
 */
function isJson(type: string | undefined): boolean {
  // What every SDK sends, as it sends it: known without taking the value apart.
  if (type === 'application/json') return true;
  return type?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}
