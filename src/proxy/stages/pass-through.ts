/**
 * The pass-through stage: what the cache does not take, forwarded to the upstream and answered as
 * it answers. A route that is not a cached endpoint passes as it is, body streamed; a cached
 * endpoint's request that is not cached this time (the caller has no tenant, the body cannot be
 * keyed, the request asks not to be) is forwarded without its `cache` field and says why.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RequestError } from '../../errors.js';
import { sendError, sendNotCached } from '../api-error.js';
import type { Body } from '../body.js';
import { controlsOf } from '../controls.js';
import { type ApiKind, type Endpoint, isObject } from '../endpoints/endpoint.js';
import { hasImpreciseNumber } from '../json-numbers.js';
import { UNVERIFIED_MODEL } from '../metrics.js';
import { header } from '../tenancy.js';
import { asUpstreamError, clientHeaders } from '../upstream.js';
import { describe, logUpstream } from '../upstream-log.js';
import type { Exchange, GatewayContext } from './context.js';
import { parseJson } from './parse.js';

/** A route that is not a cached endpoint: forwarded as it is. */
export async function passThrough(ctx: GatewayContext, exchange: Exchange, api: ApiKind): Promise<void> {
  const { req } = exchange;
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  await forward(ctx, exchange, api, hasBody ? req : null, { 'x-strata-cache': 'bypass' }, undefined);
}

/** A cached endpoint's request that is not cached this time: forwarded, answered as the upstream answers. */
export async function bypass(
  ctx: GatewayContext,
  exchange: Exchange,
  endpoint: Endpoint,
  raw: Buffer,
  why: string,
): Promise<void> {
  let body = raw;
  let model: string | undefined;
  const parsed = parseJson(raw);
  if (isObject(parsed)) {
    model = typeof parsed.model === 'string' ? parsed.model : undefined;
    if ('cache' in parsed) {
      // Taking the field out re-serializes the body, which would change such a number.
      if (hasImpreciseNumber(raw.toString('utf8')))
        throw new RequestError(
          'cache: cannot be taken out of a body holding numbers of more than 15 digits without changing them; send Cache-Control headers instead',
          'STRATA_REQUEST_CACHE_NOT_REMOVABLE',
        );
      const { cache: _, ...rest } = parsed;
      body = Buffer.from(JSON.stringify(rest));
    }
  }
  await forwardUncached(ctx, exchange, endpoint, body, why, model);
}

/**
 * A body too large or too deeply nested to key (body.ts): forwarded as its bytes, never
 * parsed; routed by the model the scan found.
 */
export async function passUnkeyed(
  ctx: GatewayContext,
  exchange: Exchange,
  endpoint: Endpoint,
  body: Body,
  /** Why it is not keyed (`body.unkeyed`). */
  why: string,
): Promise<void> {
  // Taking the field out would need the parse this body is spared; forwarded, the upstream
  // would refuse an unknown field in its own words, which would not say why.
  if (body.hasCache)
    throw new RequestError(
      `cache: cannot be taken out of this body (${why}); send Cache-Control headers instead`,
      'STRATA_REQUEST_CACHE_NOT_REMOVABLE',
    );
  await forwardUncached(ctx, exchange, endpoint, body.raw, why, body.model);
}

/** A cached endpoint's request sent on uncached, with the reason; only-if-cached gets its 504 instead. */
async function forwardUncached(
  ctx: GatewayContext,
  exchange: Exchange,
  endpoint: Endpoint,
  body: Buffer,
  why: string,
  model: string | undefined,
): Promise<void> {
  ctx.counters.request(endpoint.label, UNVERIFIED_MODEL, 'bypass');
  // only-if-cached promises no upstream call, and a request that is not cached has no entry.
  if (controlsOf(header(exchange.req.headers, 'cache-control'), undefined).onlyIfCached)
    return sendNotCached(exchange.res, endpoint.api, why);
  await forward(
    ctx,
    exchange,
    endpoint.api,
    body,
    { 'x-strata-cache': 'bypass', 'x-strata-bypass': why },
    model,
  );
}

async function forward(
  ctx: GatewayContext,
  { req, res, caller, url }: Exchange,
  api: ApiKind,
  body: Buffer | Readable | null,
  extra: Record<string, string>,
  model: string | undefined,
): Promise<void> {
  const upstream = ctx.upstreams.pick(api, url.pathname, model);
  if (!upstream) return sendError(res, api, 404, `no upstream is configured for ${url.pathname}`);
  // A path is the client's text (ids, anything): only a cached endpoint's label names the route.
  const route = ctx.endpoints.get(url.pathname)?.label ?? 'pass-through';
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  try {
    const answer = await ctx.upstreams.send(upstream, {
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      headers: req.headers,
      caller,
      body,
      signal: abort.signal,
    });
    if (answer.status >= 400) logUpstream(ctx.logger, route, upstream, `answered ${answer.status}`);
    res.writeHead(answer.status, { ...clientHeaders(answer.headers, true), ...extra });
    await pipeline(answer.body, res);
  } catch (error) {
    const failure = asUpstreamError(error);
    // The client leaving aborts the call: nothing went wrong upstream.
    if (!abort.signal.aborted)
      logUpstream(
        ctx.logger,
        route,
        upstream,
        describe(failure, res.headersSent ? 'mid-response' : undefined),
      );
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendError(res, api, failure.status, failure.message, 'bypass', failure.code);
  }
}
