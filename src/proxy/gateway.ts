/**
 * The gateway's request handling: route, identify the caller, read the cache controls, derive the
 * key, and then lead or follow the request's flight (flight.ts). A leader looks the key up in the
 * manager (the same tiers, coalescing, semantic rules and events as the library) and, on a miss,
 * calls the upstream: a JSON answer is stored as it is, a stream is forwarded as it arrives and
 * stored once it completed. Anything that is not one of the cached endpoints passes through.
 *
 * What is stored is the response a non-streaming request gets, so a streamed and a non-streamed
 * request share one entry; a hit is sent back as that JSON or replayed as the endpoint's events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { STORED_PROMPT_CHARS, type StoredGenerationData } from '../core/entry.js';
import type { Logger } from '../core/events.js';
import { type CacheKey, deriveKey } from '../core/key.js';
import { scrubRequestBody, scrubString } from '../core/secrets.js';
import type { Strata } from '../engine/strata.js';
import { errorOf } from '../errors.js';
import { type Body, readBody } from './body.js';
import { BrowserGuard } from './browser.js';
import type { ResolvedProxyConfig } from './config.js';
import { type Controls, controlsOf } from './controls.js';
import { anthropicMessages } from './endpoints/anthropic-messages.js';
import {
  type ApiKind,
  type CanonicalRequest,
  type Endpoint,
  isObject,
  type Json,
  RequestError,
} from './endpoints/endpoint.js';
import { openaiChat } from './endpoints/openai-chat.js';
import { openaiCompletions } from './endpoints/openai-completions.js';
import { openaiEmbeddings } from './endpoints/openai-embeddings.js';
import { openaiResponses } from './endpoints/openai-responses.js';
import { Flight, type HitInfo, type Outcome, type StreamClient } from './flight.js';
import { hitEvent, hitObject } from './hit-usage.js';
import { hasImpreciseNumber } from './json-numbers.js';
import type { CacheStatus, ProxyCounters } from './metrics.js';
import { type SseEvent, SseParser } from './sse.js';
import { type Caller, header, identify, keyTags, type Tenancy } from './tenancy.js';
import {
  asUpstreamError,
  clientHeaders,
  type Upstream,
  type UpstreamError,
  type Upstreams,
} from './upstream.js';
import { STORED_UPSTREAM, storeAccount, storedFor } from './upstream-store.js';

export const ENDPOINTS: readonly Endpoint[] = [
  openaiChat,
  openaiCompletions,
  openaiEmbeddings,
  openaiResponses,
  anthropicMessages,
];

export interface GatewayOptions {
  readonly manager: Strata;
  readonly config: ResolvedProxyConfig;
  /** The config's namespace: every tenant lives under it. */
  readonly namespace: string;
  readonly clientTokens: readonly string[];
  readonly upstreams: Upstreams;
  readonly counters: ProxyCounters;
  readonly defaultTtlSeconds: number | null;
  readonly logger: Logger;
}

/** One cacheable request, everything the leader and its followers need. */
interface Request {
  readonly endpoint: Endpoint;
  readonly canonical: CanonicalRequest;
  readonly controls: Controls;
  readonly caller: Caller;
  readonly upstream: Upstream;
  readonly key: CacheKey;
  /** Path and query as received. */
  readonly target: string;
  readonly headers: IncomingMessage['headers'];
  /** The body to forward: the client's, without LiteLLM's `cache` field. */
  readonly body: Json;
  /**
   * The client's bytes, when they can be forwarded as they are (no `cache` field to take out):
   * re-serializing would round integers beyond 2^53 (a `seed`) and reorder nothing else.
   */
  readonly raw: Buffer | undefined;
}

export class Gateway {
  private readonly endpoints = new Map(ENDPOINTS.map((e) => [e.path, e]));
  private readonly flights = new Map<string, Flight>();
  /** The account a flight's leader asked the upstream to store its answer for (upstream-store.ts). */
  private readonly storing = new WeakMap<Flight, string>();
  private readonly tenancy: Tenancy;

  private readonly browser: BrowserGuard;

  constructor(private readonly o: GatewayOptions) {
    this.tenancy = { config: o.config, root: o.namespace, clientTokens: o.clientTokens };
    this.browser = new BrowserGuard(o.config, o.clientTokens.length > 0);
  }

  /** Answers one request; never throws (an unexpected failure is a 500 in the API's error shape). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Concatenated, not resolved: `//v1/x` is a path here, not a protocol-relative URL.
    const url = new URL(`http://gateway${req.url?.startsWith('/') ? req.url : `/${req.url ?? ''}`}`);
    const endpoint = req.method === 'POST' ? this.endpoints.get(url.pathname) : undefined;
    const api = endpoint?.api ?? apiOf(req.headers);
    try {
      // First of all: Host, Origin and Content-Type, what keeps web pages out (browser.ts).
      if (this.browser.answered(req, res, api, endpoint !== undefined)) return;
      const caller = identify(this.tenancy, req.headers, url.searchParams);
      if (!caller)
        return sendError(
          res,
          api,
          401,
          'a valid client token is required (Authorization: Bearer, x-api-key or x-strata-token)',
        );
      if (!endpoint) return await this.passThrough(req, res, api, caller, url);
      const body = await readBody(req, this.o.config);
      if (body.unkeyed !== undefined) return await this.passUnkeyed(req, res, endpoint, caller, url, body);
      const raw = body.raw;
      // A caller whose answers have no place (no credential, no tenant header) is not keyed at all.
      if (caller.namespace === undefined)
        return await this.bypass(req, res, endpoint, caller, url, raw, caller.why!);
      const request = this.parse(endpoint, req, raw, caller, url, body);
      if (typeof request === 'string')
        return await this.bypass(req, res, endpoint, caller, url, raw, request);
      await this.serve(request, res);
    } catch (error) {
      if (error instanceof RequestError) return sendError(res, api, error.status, error.message);
      this.o.logger.warn(`[strata] proxy: ${req.method} ${url.pathname} failed: ${errorOf(error).message}`);
      sendError(res, api, 500, 'the gateway failed to handle this request');
    }
  }

  /** The request as the cache sees it, or why it is not cached. */
  private parse(
    endpoint: Endpoint,
    req: IncomingMessage,
    raw: Buffer,
    caller: Caller,
    url: URL,
    scanned: Body,
  ): Request | string {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      // The upstream says what is wrong with it, in its own words.
      return 'the body is not JSON';
    }
    if (!isObject(parsed)) return 'the body is not a JSON object';
    if (scanned.impreciseNumber) return 'a number in the body has more digits than the key can hold exactly';
    const controls = controlsOf(header(req.headers, 'cache-control'), parsed.cache);
    const { cache: _, ...body } = parsed;
    let canonical: CanonicalRequest;
    try {
      // Keyed and stored without the credentials a body can carry (MCP tokens, a body `api_key`):
      // each is replaced by its keyed digest, so two tokens still never share an answer.
      canonical = endpoint.canonical(scrubRequestBody(body), flatHeaders(req.headers));
    } catch (error) {
      if (error instanceof RangeError) return 'the body is nested too deeply to derive a key';
      throw error;
    }
    // Routed by the model as sent; `canonical.model` is its stored (scrubbed) form.
    const model = typeof body.model === 'string' ? body.model : canonical.model;
    const upstream = this.o.upstreams.pick(endpoint.api, url.pathname, model);
    if (!upstream)
      throw new RequestError(`no upstream is configured for model ${JSON.stringify(model)}`, 404);
    const why =
      canonical.bypass ?? (controls.noCache && controls.noStore ? 'no-cache and no-store' : undefined);
    if (why) return why;
    // The body's sub-namespace is part of the llm string, not of the namespace: JSON keeps every
    // (tenant, sub-namespace) pair apart, and clearing a tenant clears all of its sub-namespaces.
    const llmString = JSON.stringify({
      model: canonical.model,
      endpoint: endpoint.label,
      ...(controls.namespace === undefined ? {} : { namespace: controls.namespace }),
    });
    // A key in the query string (`?key=`, `?api-key=`) enters the key as its digest only.
    const prompt = url.search ? `${scrubString(url.search)}\n${canonical.prompt}` : canonical.prompt;
    const key = { ...deriveKey(caller.namespace!, llmString, prompt), question: canonical.question };
    return {
      endpoint,
      canonical,
      controls,
      caller,
      upstream,
      key,
      target: url.pathname + url.search,
      headers: req.headers,
      body,
      raw: 'cache' in parsed ? undefined : raw,
    };
  }

  private async serve(request: Request, res: ServerResponse): Promise<void> {
    const { key, controls } = request;
    const existing = controls.noCache ? undefined : this.flights.get(key.hash);
    if (existing && (existing.joinable || !request.canonical.stream))
      return this.follow(existing, request, res);
    // A stream too long to replay from its start takes no more streaming clients: a call of its own.
    if (existing) return this.lead({ ...request, controls: { ...controls, noCache: true } }, res);
    await this.lead(request, res);
  }

  // --- Leading ------------------------------------------------------------------------------------

  private async lead(request: Request, res: ServerResponse): Promise<void> {
    const { key, controls, canonical, endpoint } = request;
    const flight = new Flight(request.caller.fingerprint, echoOf(request));
    this.markStoring(flight, request);
    const shared = !controls.noCache;
    if (shared) this.flights.set(key.hash, flight);
    res.once('close', flight.attach());
    const client = canonical.stream
      ? streamClient(res, canonical.includeUsage, { 'x-strata-cache': 'miss' })
      : undefined;
    if (client) flight.follow(client);
    const claim = !controls.noStore && !controls.onlyIfCached;
    let holdsClaim = false;
    let stored = false;
    try {
      if (!controls.noCache) {
        const hit = await this.o.manager.lookup(key, { claim });
        holdsClaim = claim && !hit;
        const answer = hit && this.answerOf(request, hit);
        if (answer) {
          flight.finish(answer);
          return this.deliver(request, res, answer, 'hit');
        }
      }
      if (controls.onlyIfCached) {
        flight.finish({ kind: 'retry' });
        this.o.counters.request(endpoint.label, UNVERIFIED_MODEL, 'miss');
        return sendError(res, endpoint.api, 504, 'the answer is not in the cache (only-if-cached)', 'miss');
      }
      const outcome = canonical.stream
        ? await this.stream(request, flight)
        : await this.call(request, flight, res);
      flight.finish(outcome);
      if (!canonical.stream && outcome.kind !== 'answer') this.deliverTo(request, res, outcome, 'miss');
      else if (canonical.stream && !flight.isStreaming) this.deliverTo(request, res, outcome, 'miss');
      if (outcome.kind === 'answer' || outcome.kind === 'passed')
        this.o.counters.request(endpoint.label, canonical.model, 'miss');
      else this.o.counters.request(endpoint.label, UNVERIFIED_MODEL, 'error');
      // The answer's own size, as stored: a stream's framing (often 20x its text) does not count.
      // A JSON answer was read only up to maxStoredBytes (call()); an assembled one is measured.
      if (
        outcome.kind === 'answer' &&
        !controls.noStore &&
        (!canonical.stream ||
          Buffer.byteLength(JSON.stringify(outcome.response)) <= this.o.config.maxStoredBytes)
      )
        stored = await this.store(request, outcome.response);
    } finally {
      if (shared && this.flights.get(key.hash) === flight) this.flights.delete(key.hash);
      if (holdsClaim && !stored) this.o.manager.release(key);
      if (client) flight.unfollow(client);
    }
  }

  /**
   * A stored response that may answer this request: intact, of this endpoint, fresh enough, and,
   * when the request asks the upstream to store its answer, stored upstream for the same account
   * (upstream-store.ts); otherwise the request goes upstream and its answer replaces the entry.
   */
  private answerOf(
    request: Request,
    hit: NonNullable<Awaited<ReturnType<Strata['lookup']>>>,
  ): Outcome | undefined {
    const { endpoint, controls } = request;
    const response = hit.entry.gens[0]?.generationInfo?.response;
    if (!endpoint.isResponse(response)) return undefined;
    const account = this.storeAccountOf(request);
    if (account !== undefined && storedFor(hit.entry.meta) !== account) return undefined;
    const ageSeconds = Math.max(0, (this.o.manager.now() - hit.entry.createdAt) / 1000);
    if (controls.maxAgeSeconds !== undefined && ageSeconds > controls.maxAgeSeconds) return undefined;
    const info: HitInfo = {
      tier: hit.tier,
      ageSeconds,
      ...(hit.similarity === undefined ? {} : { similarity: hit.similarity }),
    };
    return { kind: 'answer', response, hit: info };
  }

  /**
   * A non-streaming miss: the upstream's JSON, passed on as received, stored when complete. A body
   * larger than `maxStoredBytes` is not kept: it goes on to the client as it arrives, and
   * followers waiting for it start over.
   */
  private async call(request: Request, flight: Flight, res: ServerResponse): Promise<Outcome> {
    let upstream: Awaited<ReturnType<Upstreams['send']>>;
    try {
      upstream = await this.send(request, false, flight.abort.signal);
    } catch (error) {
      return this.failed(request, flight, error);
    }
    const { status } = upstream;
    this.o.counters.upstream(request.endpoint.label, modelLabel(request.canonical.model, status), status);
    if (status !== 200) this.log(request, `answered ${status}`);
    const limit = this.o.config.maxStoredBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    const body = (upstream.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    try {
      for (let next = await body.next(); !next.done; next = await body.next()) {
        chunks.push(next.value);
        size += next.value.length;
        if (size > limit) return await this.passOn(request, flight, res, upstream, chunks, body);
      }
    } catch (error) {
      return this.failed(request, flight, error, 'mid-response');
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
  private async passOn(
    request: Request,
    flight: Flight,
    res: ServerResponse,
    upstream: Awaited<ReturnType<Upstreams['send']>>,
    head: Buffer[],
    body: AsyncIterator<Buffer>,
  ): Promise<Outcome> {
    // Followers cannot have what is not kept: they start over, and find no flight to follow again.
    if (this.flights.get(request.key.hash) === flight) this.flights.delete(request.key.hash);
    flight.finish({ kind: 'passed' });
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
        if (!writable && !(await drained(res, this.o.config.idleTimeoutMs))) {
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
      if (!left) this.failed(request, flight, error, 'mid-response');
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
  private async stream(request: Request, flight: Flight): Promise<Outcome> {
    const { endpoint } = request;
    const { maxStoredBytes, maxStreamBytes, idleTimeoutMs } = this.o.config;
    let upstream: Awaited<ReturnType<Upstreams['send']>>;
    try {
      upstream = await this.send(request, true, flight.abort.signal);
    } catch (error) {
      return this.failed(request, flight, error);
    }
    this.o.counters.upstream(
      endpoint.label,
      modelLabel(request.canonical.model, upstream.status),
      upstream.status,
    );
    const type = String(upstream.headers['content-type'] ?? '');
    if (upstream.status !== 200 || !type.startsWith('text/event-stream')) {
      const body = await readUpTo(upstream.body, maxStoredBytes).catch(() => Buffer.alloc(0));
      if (upstream.status !== 200 || !body)
        this.log(request, `answered ${upstream.status}${body ? '' : ', a body over maxStoredBytes'}`);
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
    flight.beginStream({ replayBytes: maxStoredBytes, lagBytes: 2 * maxStoredBytes });
    const parser = new SseParser();
    const assembler = endpoint.assembler!(maxStoredBytes);
    const hidden = (event: SseEvent) => endpoint.usageOnly?.(event) === true;
    let state: 'more' | 'done' | 'error' = 'more';
    let size = 0;
    try {
      for await (const chunk of upstream.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxStreamBytes) {
          this.log(request, 'stream longer than maxStreamBytes, cut off');
          return { kind: 'failed', status: 502, message: 'the upstream stream exceeded maxStreamBytes' };
        }
        for (const event of parser.push(chunk)) {
          if (state === 'more') state = assembler.push(event);
          flight.forward(event, hidden(event));
        }
        if (state !== 'more') break;
        // Not another byte from the upstream until a client can take it.
        const stalled = flight.stalled(idleTimeoutMs);
        if (stalled && !(await stalled)) {
          this.log(request, 'stream stopped, no client read it within idleTimeoutMs');
          return { kind: 'failed', status: 504, message: 'no client read the stream' };
        }
      }
    } catch (error) {
      return this.failed(request, flight, error, 'mid-stream');
    } finally {
      upstream.body.destroy();
    }
    if (state === 'error') {
      this.log(request, 'reported an error mid-stream');
      return {
        kind: 'failed',
        status: 502,
        message: 'the upstream reported an error mid-stream',
        reported: true,
      };
    }
    if (state !== 'done') {
      this.log(request, 'ended the stream before it completed');
      return { kind: 'failed', status: 502, message: 'the upstream stream ended before it completed' };
    }
    const response = assembler.unstorable === undefined ? assembler.result() : undefined;
    // Complete, but not rebuilt whole: the clients had all of it, nothing is stored.
    if (!endpoint.isResponse(response)) return { kind: 'passed' };
    return { kind: 'answer', response };
  }

  /**
   * An upstream call that ended without an answer, logged unless its clients' leaving ended it.
   * `where` says when it broke: before the answer began, or in the middle of it.
   */
  private failed(
    request: Request,
    flight: Flight,
    error: unknown,
    where?: 'mid-response' | 'mid-stream',
  ): Outcome {
    const failure = asUpstreamError(error);
    const message = where === 'mid-stream' ? `${failure.message} (stream cut off)` : failure.message;
    if (!flight.abort.signal.aborted) this.log(request, describe(failure, where));
    return { kind: 'failed', status: failure.status, message };
  }

  private log(request: Request, what: string): void {
    this.logUpstream(request.endpoint.label, request.upstream, what);
  }

  /**
   * One warning per upstream failure: route, what happened, the upstream's origin. Never a header,
   * credential, model name (a client's text: a key pasted by mistake) or anything of the prompt.
   */
  private logUpstream(route: string, upstream: Upstream, what: string): void {
    let origin: string;
    try {
      origin = new URL(upstream.url).origin;
    } catch {
      origin = 'the upstream';
    }
    this.o.logger.warn(`[strata] proxy: ${route} upstream ${origin}: ${what}`);
  }

  private send(request: Request, streaming: boolean, signal: AbortSignal) {
    const { endpoint, canonical } = request;
    // Savings need every stream's usage: asked for here, hidden from clients that did not ask.
    const askUsage = streaming && this.o.config.streamUsage && endpoint.streamBody && !canonical.includeUsage;
    const body = askUsage
      ? Buffer.from(JSON.stringify(endpoint.streamBody!(request.body)))
      : (request.raw ?? Buffer.from(JSON.stringify(request.body)));
    return this.o.upstreams.send(request.upstream, {
      method: 'POST',
      path: request.target,
      // The gateway reads the answer, so it asks for it uncompressed.
      headers: { ...request.headers, 'accept-encoding': 'identity', 'content-type': 'application/json' },
      caller: request.caller,
      body,
      signal,
    });
  }

  private async store(request: Request, answer: Json): Promise<boolean> {
    const { endpoint, controls } = request;
    const response = endpoint.echo ? endpoint.echo.stored(answer) : answer;
    const usage = endpoint.usage(response);
    const gens: StoredGenerationData[] = [
      {
        text: endpoint.text(response),
        generationInfo: {
          response,
          ...(usage
            ? {
                tokenUsage: {
                  promptTokens: usage.inputTokens,
                  completionTokens: usage.outputTokens,
                  totalTokens: usage.totalTokens,
                },
              }
            : {}),
        },
      },
    ];
    const ttlSeconds = controls.ttlSeconds ?? this.o.defaultTtlSeconds;
    // Whether (and for whom) the upstream kept this answer under its id: see answerOf().
    const account = this.storeAccountOf(request);
    await this.o.manager.update(request.key, gens, {
      ttlMs: ttlSeconds === null ? null : ttlSeconds * 1000,
      // How `strata clear --tenant-key-env` finds this caller's entries (digests, never the keys).
      tags: keyTags(request.caller.credentials),
      ...(account === undefined ? {} : { metadata: { [STORED_UPSTREAM]: account } }),
      // A request may be 32 MiB: a longer prompt is stored as its digest and an excerpt.
      maxPromptChars: STORED_PROMPT_CHARS,
    });
    return true;
  }

  private storeAccountOf(request: Request): string | undefined {
    return storeAccount(request.endpoint, request.body, request.upstream, request.caller);
  }

  private markStoring(flight: Flight, request: Request): void {
    const account = this.storeAccountOf(request);
    if (account !== undefined) this.storing.set(flight, account);
  }

  // --- Following ----------------------------------------------------------------------------------

  private async follow(flight: Flight, request: Request, res: ServerResponse): Promise<void> {
    const { canonical, endpoint, controls } = request;
    // Asking the upstream to store: the leader's answer must be stored for this account too
    // (upstream-store.ts), so such a request follows only a leader that asked the same.
    const account = this.storeAccountOf(request);
    if (account !== undefined && this.storing.get(flight) !== account) return this.lead(request, res);
    res.once('close', flight.attach());
    // Live events echo the leader's request; a follower whose echoed fields differ waits for the
    // answer and gets it replayed with its own (deliverTo).
    const live =
      canonical.stream && flight.echo === echoOf(request)
        ? streamClient(res, canonical.includeUsage, { 'x-strata-cache': 'hit', 'x-strata-tier': 'coalesced' })
        : undefined;
    const client = live && this.asHit(live);
    if (client) flight.follow(client);
    const outcome = await flight.outcome;
    if (client) flight.unfollow(client);
    if (controls.onlyIfCached && (outcome.kind === 'failed' || outcome.kind === 'upstream-error')) {
      // The leader's call failed, so the answer is not in the cache: what only-if-cached is told,
      // whoever led (the leader's own error is the upstream's answer, not the cache's).
      this.o.counters.request(endpoint.label, UNVERIFIED_MODEL, 'miss');
      if (client && flight.isStreaming) return;
      return sendError(res, endpoint.api, 504, 'the answer is not in the cache (only-if-cached)', 'miss');
    }
    const sameCaller = flight.fingerprint === request.caller.fingerprint;
    if (
      outcome.kind === 'retry' ||
      (outcome.kind === 'upstream-error' && !sameCaller) ||
      (outcome.kind === 'failed' && !sameCaller)
    ) {
      if (res.headersSent) return;
      return this.serve(request, res);
    }
    if (outcome.kind === 'answer') this.o.counters.request(endpoint.label, canonical.model, 'coalesced');
    else this.o.counters.request(endpoint.label, UNVERIFIED_MODEL, 'error');
    // A live stream already ended (or broke) every streaming client.
    if (client && flight.isStreaming) return;
    this.deliverTo(request, res, outcome, 'hit', 'coalesced');
  }

  // --- Answering ----------------------------------------------------------------------------------

  /** A coalesced follower's live stream is a hit too: its usage is rewritten as hits' are (hit-usage.ts). */
  private asHit(client: StreamClient): StreamClient {
    if (this.o.config.hitUsage !== 'zero') return client;
    return { ...client, write: (text) => client.write(hitEvent(text)) };
  }

  private deliver(request: Request, res: ServerResponse, outcome: Outcome, status: CacheStatus): void {
    this.o.counters.request(request.endpoint.label, request.canonical.model, status);
    if (outcome.kind === 'answer' && outcome.hit) {
      const usage = request.endpoint.usage(outcome.response);
      if (usage) this.o.counters.saved(request.endpoint.label, request.canonical.model, usage);
    }
    this.deliverTo(request, res, outcome, status);
  }

  private deliverTo(
    request: Request,
    res: ServerResponse,
    outcome: Outcome,
    status: CacheStatus,
    tier?: string,
  ): void {
    if (res.headersSent || res.destroyed) return;
    const { endpoint, canonical } = request;
    switch (outcome.kind) {
      case 'answer': {
        const headers: Record<string, string> = { 'x-strata-cache': status === 'miss' ? 'miss' : 'hit' };
        const hit = outcome.hit;
        if (hit ?? tier) headers['x-strata-tier'] = hit?.tier ?? tier!;
        if (hit) headers.age = String(Math.floor(hit.ageSeconds));
        if (hit?.similarity !== undefined) headers['x-strata-similarity'] = hit.similarity.toFixed(4);
        // A hit's usage says it cost nothing (hit-usage.ts); `outcome.response` stays as stored,
        // which is what the savings count.
        const zero = status !== 'miss' && this.o.config.hitUsage === 'zero';
        // A response that echoes its request carries this request's own unkeyed fields on a hit.
        const response =
          status !== 'miss' && endpoint.echo
            ? endpoint.echo.forRequest(outcome.response, request.body)
            : outcome.response;
        if (canonical.stream && endpoint.replay) {
          res.writeHead(200, { ...SSE_HEADERS, ...headers });
          for (const event of endpoint.replay(response, { includeUsage: canonical.includeUsage }))
            res.write(zero ? hitEvent(event, response.usage) : event);
          res.end();
        } else {
          const body = Buffer.from(JSON.stringify(zero ? hitObject(response) : response));
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': String(body.length),
            ...headers,
          });
          res.end(body);
        }
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
        sendError(res, endpoint.api, outcome.status, outcome.message, 'miss');
        return;
      case 'retry':
        sendError(res, endpoint.api, 504, 'the answer is not in the cache (only-if-cached)', 'miss');
        return;
    }
  }

  // --- Not cached ---------------------------------------------------------------------------------

  /** A cached endpoint's request that is not cached this time: forwarded, answered as the upstream answers. */
  private async bypass(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: Endpoint,
    caller: Caller,
    url: URL,
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
          );
        const { cache: _, ...rest } = parsed;
        body = Buffer.from(JSON.stringify(rest));
      }
    }
    await this.forwardUncached(req, res, endpoint, caller, url, body, why, model);
  }

  /**
   * A body too large or too deeply nested to key (body.ts): forwarded as its bytes, never
   * parsed; routed by the model the scan found.
   */
  private async passUnkeyed(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: Endpoint,
    caller: Caller,
    url: URL,
    body: Body,
  ): Promise<void> {
    // Taking the field out would need the parse this body is spared; forwarded, the upstream
    // would refuse an unknown field in its own words, which would not say why.
    if (body.hasCache)
      throw new RequestError(
        `cache: cannot be taken out of this body (${body.unkeyed}); send Cache-Control headers instead`,
      );
    await this.forwardUncached(req, res, endpoint, caller, url, body.raw, body.unkeyed!, body.model);
  }

  /** A cached endpoint's request sent on uncached, with the reason; only-if-cached gets its 504 instead. */
  private async forwardUncached(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: Endpoint,
    caller: Caller,
    url: URL,
    body: Buffer,
    why: string,
    model: string | undefined,
  ): Promise<void> {
    this.o.counters.request(endpoint.label, UNVERIFIED_MODEL, 'bypass');
    // only-if-cached promises no upstream call, and a request that is not cached has no entry.
    if (controlsOf(header(req.headers, 'cache-control'), undefined).onlyIfCached)
      return sendError(res, endpoint.api, 504, `the answer is not in the cache (only-if-cached): ${why}`);
    await this.forward(
      req,
      res,
      endpoint.api,
      caller,
      url,
      body,
      { 'x-strata-cache': 'bypass', 'x-strata-bypass': why },
      model,
    );
  }

  private async passThrough(
    req: IncomingMessage,
    res: ServerResponse,
    api: ApiKind,
    caller: Caller,
    url: URL,
  ): Promise<void> {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    await this.forward(
      req,
      res,
      api,
      caller,
      url,
      hasBody ? req : null,
      { 'x-strata-cache': 'bypass' },
      undefined,
    );
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    api: ApiKind,
    caller: Caller,
    url: URL,
    body: Buffer | Readable | null,
    extra: Record<string, string>,
    model: string | undefined,
  ): Promise<void> {
    const upstream = this.o.upstreams.pick(api, url.pathname, model);
    if (!upstream) return sendError(res, api, 404, `no upstream is configured for ${url.pathname}`);
    // A path is the client's text (ids, anything): only a cached endpoint's label names the route.
    const route = this.endpoints.get(url.pathname)?.label ?? 'pass-through';
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    try {
      const answer = await this.o.upstreams.send(upstream, {
        method: req.method ?? 'GET',
        path: url.pathname + url.search,
        headers: req.headers,
        caller,
        body,
        signal: abort.signal,
      });
      if (answer.status >= 400) this.logUpstream(route, upstream, `answered ${answer.status}`);
      res.writeHead(answer.status, { ...clientHeaders(answer.headers, true), ...extra });
      await pipeline(answer.body, res);
    } catch (error) {
      const failure = asUpstreamError(error);
      // The client leaving aborts the call: nothing went wrong upstream.
      if (!abort.signal.aborted)
        this.logUpstream(route, upstream, describe(failure, res.headersSent ? 'mid-response' : undefined));
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendError(res, api, failure.status, failure.message);
    }
  }
}

/** What went wrong with an upstream call, for the log: its error code at most, never its text. */
function describe(failure: UpstreamError, where: 'mid-response' | 'mid-stream' | undefined): string {
  if (where && failure.status === 502) {
    const code = /\(([A-Z_]+)\)$/.exec(failure.message)?.[1];
    return `broke off ${where}${code ? ` (${code})` : ''}`;
  }
  return failure.message.replace(/^the upstream /, '');
}

/**
 * The model label of a request no upstream has answered: the name is the client's text, and a
 * metric label must not carry whatever a client types there (a pasted key) or grow without end.
 */
const UNVERIFIED_MODEL = 'other';

function modelLabel(model: string, status: number): string {
  return status === 200 ? model : UNVERIFIED_MODEL;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' };

function streamClient(
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

/** Anthropic's error types by status (its SDK and docs name them); the rest are `api_error`. */
const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
};

/** An error in the shape the API's SDKs parse (`error.message`, `error.type`). */
export function sendError(
  res: ServerResponse,
  api: ApiKind,
  status: number,
  message: string,
  cache: 'miss' | 'bypass' = 'bypass',
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(
    JSON.stringify(
      api === 'anthropic'
        ? { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[status] ?? 'api_error', message } }
        : {
            error: {
              message,
              type:
                status === 401
                  ? 'authentication_error'
                  : status < 500
                    ? 'invalid_request_error'
                    : 'server_error',
              param: null,
              code: null,
            },
          },
    ),
  );
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-strata-cache': cache,
  });
  res.end(body);
}

/** The request's values of the fields its answer echoes, as one comparable string. */
function echoOf(request: Request): string {
  return request.endpoint.echo?.signature(request.body) ?? '';
}

/** Which API an unrouted request speaks: Anthropic's SDK always sends anthropic-version. */
function apiOf(headers: IncomingMessage['headers']): ApiKind {
  return headers['anthropic-version'] !== undefined || headers['x-api-key'] !== undefined
    ? 'anthropic'
    : 'openai';
}

/** The whole body, or undefined (and the body destroyed) once it is larger than `limit`. */
async function readUpTo(body: Readable, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
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

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

function flatHeaders(headers: IncomingMessage['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function singleValued(headers: Record<string, string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
