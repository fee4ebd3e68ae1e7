/**
 * The respond stage: an outcome (flight.ts) sent to one client as the API would have answered: a
 * stored or fresh answer as JSON or replayed as the endpoint's events, the upstream's own error,
 * or an error of the gateway's; and the client a live stream is written to.
 */
import type { ServerResponse } from 'node:http';
import { sendError, sendNotCached } from '../api-error.js';
import type { Json } from '../endpoints/endpoint.js';
import { RESPONSE_ID_HEADER } from '../feedback.js';
import type { Outcome, StreamClient } from '../flight.js';
import { hitEvent, hitObject } from '../hit-usage.js';
import type { CacheStatus } from '../metrics.js';
import type { CachedRequest, GatewayContext } from './context.js';
import { shapeOf } from './prepared.js';

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

/** The outcome to the client, counted (and its tokens counted as saved when it is a hit). */
export function deliver(
  ctx: GatewayContext,
  request: CachedRequest,
  res: ServerResponse,
  outcome: Outcome,
  status: CacheStatus,
): void {
  ctx.counters.request(request.endpoint.label, request.canonical.model, status);
  // A stale answer stands in for a call that failed: it saved nothing.
  if (outcome.kind === 'answer' && outcome.hit && !outcome.hit.stale) {
    const usage = request.endpoint.usage(outcome.response);
    if (usage) ctx.counters.saved(request.endpoint.label, request.canonical.model, usage);
  }
  deliverTo(ctx, request, res, outcome, status);
}

/** The outcome to the client, uncounted; nothing when the response has begun or the client left. */
export function deliverTo(
  ctx: GatewayContext,
  request: CachedRequest,
  res: ServerResponse,
  outcome: Outcome,
  status: CacheStatus,
  tier?: string,
): void {
  if (res.headersSent || res.destroyed) return;
  const { endpoint, canonical } = request;
  switch (outcome.kind) {
    case 'answer': {
      const headers: Record<string, string> = {
        'x-strata-cache': status === 'miss' || status === 'stale' ? status : 'hit',
      };
      const hit = outcome.hit;
      const from = hit?.tier ?? tier;
      if (from !== undefined) headers['x-strata-tier'] = from;
      if (hit) headers.age = String(Math.floor(hit.ageSeconds));
      if (hit?.similarity !== undefined) headers['x-strata-similarity'] = hit.similarity.toFixed(4);
      // Another prompt's answer: the client may report on it by this id (feedback.ts).
      if (hit?.similar)
        headers[RESPONSE_ID_HEADER] = ctx.feedback.remember(request.key, request.caller, request.sealer);
      const stream = canonical.stream && endpoint.replay !== undefined;
      const body = bodyOf(ctx, request, outcome.response, status, hit?.entry);
      if (stream) res.writeHead(200, { ...SSE_HEADERS, ...headers });
      else
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(body.length),
          ...headers,
        });
      // A replay's events in one write: one chunk of the stream, the same events.
      res.end(body);
      return;
    }
    case 'upstream-error':
      // The upstream's own answer to a miss, to the leader or to a follower of its call.
      res.writeHead(outcome.status, {
        ...outcome.headers,
        'content-length': String(outcome.body.length),
        'x-strata-cache': 'miss',
      });
      res.end(outcome.body);
      return;
    case 'failed':
      sendError(res, endpoint.api, outcome.status, outcome.message, 'miss', outcome.code);
      return;
    case 'retry':
      sendNotCached(res, endpoint.api);
      return;
  }
}

/**
 * The body an answer is sent as: its JSON, or its replay's events, one after the other. A hit's
 * is kept by the engine's shared answer it was built from and sent again for the next hit of that
 * answer in the same shape (prepared.ts); a miss's (the upstream's answer, sent as it is) is
 * built once.
 */
function bodyOf(
  ctx: GatewayContext,
  request: CachedRequest,
  stored: Json,
  status: CacheStatus,
  /** The engine's shared answer the response is part of (HitInfo.entry), if it is one. */
  entry: object | undefined,
): Buffer {
  const { endpoint, canonical } = request;
  const stream = canonical.stream && endpoint.replay !== undefined;
  // A hit's usage says it cost nothing (hit-usage.ts); `stored` stays as stored, which is what
  // the savings count.
  const zero = status !== 'miss' && ctx.config.hitUsage === 'zero';
  const kept = status !== 'miss' && entry !== undefined;
  const shape = kept ? shapeOf(stream, stream && canonical.includeUsage, zero, request.echo) : '';
  const prepared = kept ? ctx.prepared.get(request.key.hash, shape, entry) : undefined;
  if (prepared) return prepared;
  // A response that echoes its request carries this request's own unkeyed fields on a hit.
  const response =
    status !== 'miss' && endpoint.echo ? endpoint.echo.forRequest(stored, request.body) : stored;
  let text: string;
  if (stream) {
    text = '';
    for (const event of endpoint.replay!(response, { includeUsage: canonical.includeUsage }))
      text += zero ? hitEvent(event, response.usage) : event;
  } else text = JSON.stringify(zero ? hitObject(response) : response);
  const body = Buffer.from(text);
  if (kept) ctx.prepared.set(request.key.hash, shape, entry, body);
  return body;
}

/** A client a stream's events are written to as they arrive, with `headers` once it begins. */
export function streamClient(
  res: ServerResponse,
  includeUsage: boolean,
  headers: Record<string, string>,
): StreamClient {
  return {
    includeUsage,
    begin: () => {
      if (!res.headersSent && !res.destroyed) res.writeHead(200, { ...SSE_HEADERS, ...headers });
    },
    write: (text) => {
      if (!res.destroyed) res.write(text);
    },
    end: () => res.end(),
    // Breaking the connection is how an HTTP client learns that a stream did not complete.
    fail: () => res.destroy(),
    gone: () => res.destroyed || res.closed,
    full: () => res.writableNeedDrain,
    backlog: () => res.writableLength,
    onDrain: (then) => {
      res.on('drain', then);
      res.on('close', then);
      return () => {
        res.off('drain', then);
        res.off('close', then);
      };
    },
  };
}

/** A coalesced follower's live stream is a hit too: its usage is rewritten as hits' are (hit-usage.ts). */
export function asHit(ctx: GatewayContext, client: StreamClient): StreamClient {
  if (ctx.config.hitUsage !== 'zero') return client;
  return { ...client, write: (text) => client.write(hitEvent(text)) };
}
