/**
 * The tee stage: a leader's miss sent upstream, its answer read once and teed to where it goes:
 * to the leader's client and the flight's followers as it arrives, and back to the flight (and
 * from there to the store) once complete. A JSON answer is kept up to `maxStoredBytes`, past that
 * only passed on; a stream is forwarded event by event and assembled into the stored response.
 */
import type { ServerResponse } from 'node:http';
import { OUTAGE_ERROR_TYPES } from '../../core/stale.js';
import { readUpTo } from '../body.js';
import type { Flight, Outcome } from '../flight.js';
import { modelLabel } from '../metrics.js';
import { type SseEvent, SseParser } from '../sse.js';
import { asUpstreamError, clientHeaders, type UpstreamResponse } from '../upstream.js';
import { type BrokeOff, describe } from '../upstream-log.js';
import { type CachedRequest, type GatewayContext, logCall } from './context.js';
import { parseJson } from './parse.js';
import { staleMayAnswer } from './stale.js';

/**
 * A non-streaming miss: the upstream's JSON, passed on as received, stored when complete. A body
 * larger than `maxStoredBytes` is not kept: it goes on to the client as it arrives, and
 * followers waiting for it start over (`forget` takes the flight out of the registry first).
 */
export async function teeJson(
  ctx: GatewayContext,
  request: CachedRequest,
  flight: Flight,
  res: ServerResponse,
  forget: () => void,
): Promise<Outcome> {
  let upstream: UpstreamResponse;
  try {
    upstream = await send(ctx, request, false, flight.abort.signal);
  } catch (error) {
    return failed(ctx, request, flight, error);
  }
  const { status } = upstream;
  ctx.counters.upstream(request.endpoint.label, modelLabel(request.canonical.model, status), status);
  if (status !== 200) logCall(ctx, request, `answered ${status}`);
  const limit = ctx.config.maxStoredBytes;
  const chunks: Buffer[] = [];
  let size = 0;
  const body = (upstream.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    for (let next = await body.next(); !next.done; next = await body.next()) {
      chunks.push(next.value);
      size += next.value.length;
      if (size > limit) {
        // Followers cannot have what is not kept: they start over, and find no flight to follow again.
        forget();
        flight.finish({ kind: 'passed' });
        return await passOn(ctx, request, flight, res, upstream, chunks, body);
      }
    }
  } catch (error) {
    return failed(ctx, request, flight, error, 'mid-response');
  } finally {
    upstream.body.destroy();
  }
  const bytes = Buffer.concat(chunks);
  const headers = clientHeaders(upstream.headers, false);
  const response = status === 200 ? parseJson(bytes) : undefined;
  if (!request.endpoint.isResponse(response))
    return { kind: 'upstream-error', status, headers: singleValued(headers), body: bytes };
  if (!res.headersSent) {
    res.writeHead(200, { ...headers, 'content-length': String(bytes.length), 'x-strata-cache': 'miss' });
    res.end(bytes);
  }
  return { kind: 'answer', response };
}

/** The rest of a body too large to keep, to the leader's client as it arrives (read as fast as it takes it). */
async function passOn(
  ctx: GatewayContext,
  request: CachedRequest,
  flight: Flight,
  res: ServerResponse,
  upstream: UpstreamResponse,
  head: Buffer[],
  body: AsyncIterator<Buffer>,
): Promise<Outcome> {
  // Once settled, the flight no longer aborts the call when its client leaves; this does.
  const stop = () => upstream.body.destroy();
  res.once('close', stop);
  try {
    if (!res.headersSent)
      res.writeHead(upstream.status, {
        ...clientHeaders(upstream.headers, true),
        'x-strata-cache': 'miss',
      });
    let writable = true;
    for (const chunk of head) writable = res.write(chunk);
    head.length = 0;
    for (;;) {
      if (!writable && !(await drained(res, ctx.config.idleTimeoutMs))) {
        res.destroy();
        return { kind: 'passed' };
      }
      const next = await body.next();
      if (next.done) break;
      writable = res.write(next.value);
    }
    res.end();
  } catch (error) {
    // A client that left destroyed the body itself: nothing went wrong upstream.
    const left = res.closed;
    res.destroy();
    if (!left) failed(ctx, request, flight, error, 'mid-response');
  } finally {
    res.off('close', stop);
  }
  return { kind: 'passed' };
}

/**
 * A streaming miss: events go to every streaming client as they arrive; stored only when
 * complete and assembled whole. The upstream is read no faster than the fastest client takes
 * the events, and a stream longer than `maxStreamBytes` is cut (an upstream that never ends).
 */
export async function teeStream(
  ctx: GatewayContext,
  request: CachedRequest,
  flight: Flight,
): Promise<Outcome> {
  const { endpoint } = request;
  const { maxStoredBytes, maxStreamBytes, idleTimeoutMs } = ctx.config;
  let upstream: UpstreamResponse;
  try {
    upstream = await send(ctx, request, true, flight.abort.signal);
  } catch (error) {
    return failed(ctx, request, flight, error);
  }
  ctx.counters.upstream(
    endpoint.label,
    modelLabel(request.canonical.model, upstream.status),
    upstream.status,
  );
  const type = String(upstream.headers['content-type'] ?? '');
  if (upstream.status !== 200 || !type.startsWith('text/event-stream')) {
    const body = await readUpTo(upstream.body, maxStoredBytes).catch(() => Buffer.alloc(0));
    if (upstream.status !== 200 || !body)
      logCall(ctx, request, `answered ${upstream.status}${body ? '' : ', a body over maxStoredBytes'}`);
    if (!body)
      return { kind: 'failed', status: 502, message: 'the upstream answered with an oversized body' };
    return {
      kind: 'upstream-error',
      status: upstream.status,
      headers: singleValued(clientHeaders(upstream.headers, false)),
      body,
    };
  }
  // A stream that outgrows what one answer may be stored as is not kept for late joiners either;
  // a client twice that far behind (its replay, and as much again) while others keep up is cut off.
  const limits = { replayBytes: maxStoredBytes, lagBytes: 2 * maxStoredBytes };
  // Where a stale answer may stand in for a stream that breaks before its first answer-bearing
  // event (stale.ts), clients get their headers with that event, not before: the events before
  // it that carry no answer (endpoint.carriesAnswer: Anthropic's message_start, ping, an empty
  // text block's start; OpenAI's role-only chunk) are held back, then sent on with it, so the
  // clients see the same bytes in the same order. Without a grace, nothing is held.
  if (!staleMayAnswer(ctx, request)) flight.beginStream(limits);
  const parser = new SseParser();
  const assembler = endpoint.assembler!(maxStoredBytes);
  const hidden = (event: SseEvent) => endpoint.usageOnly?.(event) === true;
  const leadIn = (event: SseEvent) => endpoint.carriesAnswer?.(event) === false;
  const held: SseEvent[] = [];
  const begin = () => {
    flight.beginStream(limits);
    for (const event of held) flight.forward(event, hidden(event));
    held.length = 0;
  };
  let state: 'more' | 'done' | 'error' = 'more';
  let size = 0;
  try {
    for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
      // The request's span marks the stream's first byte and its end.
      if (size === 0) ctx.tracing.event('strata.upstream.first_byte');
      size += chunk.length;
      if (size > maxStreamBytes) {
        logCall(ctx, request, 'stream longer than maxStreamBytes, cut off');
        return { kind: 'failed', status: 502, message: 'the upstream stream exceeded maxStreamBytes' };
      }
      for (const event of parser.push(chunk)) {
        if (state === 'more') state = assembler.push(event);
        if (!flight.isStreaming) {
          // An error before any answer (an overload, HTTP 200 already sent): the upstream's
          // error answer, as if it came as a status (the held events and the error, the bytes
          // clients would have had); an outage one a stale answer may stand in for.
          if (state === 'error')
            return leadInError(
              ctx,
              request,
              upstream,
              held.filter((e) => !hidden(e)),
              event,
            );
          if (state === 'more' && leadIn(event)) {
            held.push(event);
            continue;
          }
          begin();
        }
        flight.forward(event, hidden(event));
      }
      if (state !== 'more') break;
      // Not another byte from the upstream until a client can take it.
      const stalled = flight.stalled(idleTimeoutMs);
      if (stalled && !(await stalled)) {
        logCall(ctx, request, 'stream stopped, no client read it within idleTimeoutMs');
        return { kind: 'failed', status: 504, message: 'no client read the stream' };
      }
    }
  } catch (error) {
    return failed(ctx, request, flight, error, 'mid-stream');
  } finally {
    upstream.body.destroy();
    ctx.tracing.event('strata.upstream.stream_end', { 'strata.upstream.bytes': size });
  }
  // A complete stream that never carried an answer (an empty one): what was held goes on.
  if (state === 'done' && !flight.isStreaming) begin();
  if (state === 'error') {
    logCall(ctx, request, 'reported an error mid-stream');
    return {
      kind: 'failed',
      status: 502,
      message: 'the upstream reported an error mid-stream',
      reported: true,
    };
  }
  if (state !== 'done') {
    logCall(ctx, request, 'ended the stream before it completed');
    return { kind: 'failed', status: 502, message: 'the upstream stream ended before it completed' };
  }
  const response = assembler.unstorable === undefined ? assembler.result() : undefined;
  // Complete, but not rebuilt whole: the clients had all of it, nothing is stored.
  if (!endpoint.isResponse(response)) return { kind: 'passed' };
  return { kind: 'answer', response };
}

/**
 * A stream whose first answer-bearing event is an error (clients have had nothing yet, stale.ts):
 * the upstream's answer is the events held before it and that event, passed on as sent (HTTP 200,
 * an event stream) unless a stale answer stands in for it, which it may when the error's type
 * says the upstream is overloaded or failing (Anthropic's `event: error` with `overloaded_error`,
 * OpenAI's `{ error: { type: 'server_error' } }`).
 */
function leadInError(
  ctx: GatewayContext,
  request: CachedRequest,
  upstream: UpstreamResponse,
  held: readonly SseEvent[],
  event: SseEvent,
): Outcome {
  const type = errorTypeOf(event);
  const where = held.length === 0 ? "its stream's first event" : 'before any of its answer';
  logCall(ctx, request, `reported ${type ?? 'an error'} as ${where}`);
  return {
    kind: 'upstream-error',
    status: upstream.status,
    headers: singleValued(clientHeaders(upstream.headers, false)),
    body: Buffer.from([...held, event].map((e) => e.raw).join('')),
    outage: type !== undefined && OUTAGE_ERROR_TYPES.has(type),
  };
}

/** An error event's type: `error.type` in both APIs' error events' data. */
function errorTypeOf(event: SseEvent): string | undefined {
  const data = parseJson(Buffer.from(event.data)) as { error?: { type?: unknown } } | undefined;
  const type = data?.error?.type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * An upstream call that ended without an answer, logged unless its clients' leaving ended it.
 * `where` says when it broke: before the answer began, or in the middle of it.
 */
function failed(
  ctx: GatewayContext,
  request: CachedRequest,
  flight: Flight,
  error: unknown,
  where?: BrokeOff,
): Outcome {
  const failure = asUpstreamError(error);
  const message = where === 'mid-stream' ? `${failure.message} (stream cut off)` : failure.message;
  if (!flight.abort.signal.aborted) logCall(ctx, request, describe(failure, where));
  return { kind: 'failed', status: failure.status, message, code: failure.code };
}

function send(
  ctx: GatewayContext,
  request: CachedRequest,
  streaming: boolean,
  signal: AbortSignal,
): Promise<UpstreamResponse> {
  const { endpoint, canonical } = request;
  // Savings need every stream's usage: asked for here, hidden from clients that did not ask.
  const askUsage = streaming && ctx.config.streamUsage && endpoint.streamBody && !canonical.includeUsage;
  const body = askUsage
    ? Buffer.from(JSON.stringify(endpoint.streamBody!(request.body)))
    : (request.raw ?? Buffer.from(JSON.stringify(request.body)));
  return ctx.upstreams.send(request.upstream, {
    method: 'POST',
    path: request.target,
    // The gateway reads the answer, so it asks for it uncompressed.
    headers: { ...request.headers, 'accept-encoding': 'identity', 'content-type': 'application/json' },
    caller: request.caller,
    body,
    signal,
  });
}

/** Whether the client took what was written (true) or neither drained nor left within `ms` (false). */
function drained(res: ServerResponse, ms: number): Promise<boolean> {
  if (res.closed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

function singleValued(headers: Record<string, string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
