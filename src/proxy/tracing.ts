/**
 * The gateway's spans (core/tracing.ts makes them; docs/monitoring.md, "Tracing"): one server span
 * per request, `strata.gateway.request`, parented to the client's `traceparent`, with the route,
 * the model as the cache keys it, the status sent and the cache's outcome (`x-strata-cache`).
 * Never a header, a query string, a path other than a cached endpoint's, or a body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Scope, Tracing } from '../core/tracing.js';
import type { Endpoint } from './endpoints/endpoint.js';
import type { CachedRequest } from './stages/context.js';

/** The request's span, ended when its response closes; undefined while nothing is traced. */
export function traceRequest(tracing: Tracing, req: IncomingMessage, res: ServerResponse): Scope | undefined {
  const scope = tracing.server('strata.gateway.request', req.headers, {
    'http.request.method': req.method ?? 'GET',
    'url.scheme': 'http',
  });
  if (!scope) return undefined;
  res.once('close', () => {
    const status = res.statusCode;
    scope.set('http.response.status_code', status);
    scope.set('strata.cache.outcome', headerOf(res, 'x-strata-cache'));
    scope.set('strata.cache.tier', headerOf(res, 'x-strata-tier'));
    // The client left before the whole response was written.
    if (!res.writableFinished) scope.set('strata.gateway.client_left', true);
    scope.end(status >= 500 ? String(status) : undefined);
  });
  return scope;
}

/** Which route the request took: a cached endpoint's fixed path, or `pass-through` (paths are the client's text). */
export function traceRoute(scope: Scope | undefined, endpoint: Endpoint | undefined): void {
  if (!scope) return;
  scope.set('http.route', endpoint?.path ?? 'pass-through');
  if (endpoint) scope.set('gen_ai.provider.name', endpoint.api);
}

/** A keyed request: the model as the cache keys it (scrubbed, as the metrics label it). */
export function traceCached(scope: Scope | undefined, request: CachedRequest): void {
  scope?.set('gen_ai.request.model', request.canonical.model);
}

function headerOf(res: ServerResponse, name: string): string | undefined {
  const value = res.getHeader(name);
  return typeof value === 'string' ? value : undefined;
}
