/**
 * The gateway's request handling, as stages (stages/), each of which answers the request or hands
 * it on, in the manner of undici's interceptors:
 *
 *   route         which cached endpoint, if any (route.ts); the browser guard (browser.ts) and the
 *                 caller's identity (tenancy.ts) come next
 *   pass-through  anything that is not cached, forwarded as the upstream answers (pass-through.ts)
 *   parse, key    a cached endpoint's body as the cache sees it, and its key (parse.ts, key.ts)
 *   flight        lead the key's flight (look it up; on a miss, call the upstream) or follow the
 *                 one under way (flight.ts)
 *   tee           a miss's answer read once, to the clients as it arrives and to the store once
 *                 complete (tee.ts, store.ts)
 *   respond       an outcome sent as the API would have answered (respond.ts, ../api-error.ts)
 *
 * Embeddings leave after parse: each input is its own entry (embeddings/serve.ts).
 *
 * What is stored is the response a non-streaming request gets, so a streamed and a non-streamed
 * request share one entry; a hit is sent back as that JSON or replayed as the endpoint's events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorOf } from '../core/error-of.js';
import type { Scope } from '../core/tracing.js';
import { RequestError } from '../errors.js';
import { sendError } from './api-error.js';
import { readBody } from './body.js';
import { BrowserGuard } from './browser.js';
import { serveEmbeddings } from './embeddings/serve.js';
import { answerFeedback, FEEDBACK_HEADER, Feedback, isFeedbackPath, reportOf } from './feedback.js';
import type { GatewayContext, GatewayOptions } from './stages/context.js';
import { Flights } from './stages/flight.js';
import { KnownRequests } from './stages/known.js';
import { parse } from './stages/parse.js';
import { bypass, passThrough, passUnkeyed } from './stages/pass-through.js';
import { PreparedHits } from './stages/prepared.js';
import { ENDPOINTS, route } from './stages/route.js';
import { identify, type Tenancy } from './tenancy.js';
import { traceCached, traceRequest, traceRoute } from './tracing.js';

export type { GatewayOptions } from './stages/context.js';
export { ENDPOINTS } from './stages/route.js';

export class Gateway {
  private readonly ctx: GatewayContext;
  private readonly flights: Flights;
  private readonly tenancy: Tenancy;
  private readonly browser: BrowserGuard;

  constructor(options: GatewayOptions) {
    this.ctx = {
      ...options,
      endpoints: new Map(ENDPOINTS.map((e) => [e.path, e])),
      feedback: new Feedback(options.manager),
      known: new KnownRequests(),
      prepared: new PreparedHits(),
    };
    this.flights = new Flights(this.ctx);
    this.tenancy = { config: options.config, root: options.namespace, clientTokens: options.clientTokens };
    this.browser = new BrowserGuard(options.config, options.clientTokens.length > 0);
  }

  /** Answers one request; never throws (an unexpected failure is a 500 in the API's error shape). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Its span is active while it is served: the lookup's and the upstream call's are its children.
    const scope = traceRequest(this.ctx.tracing, req, res);
    return scope ? scope.run(() => this.serve(req, res, scope)) : this.serve(req, res, undefined);
  }

  private async serve(req: IncomingMessage, res: ServerResponse, scope: Scope | undefined): Promise<void> {
    const { ctx } = this;
    const { url, endpoint, api } = route(req, ctx.endpoints);
    traceRoute(scope, endpoint);
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
      // A report on an earlier similarity answer goes with any request (feedback.ts); its result
      // is said in the response, whatever answers the request itself.
      const own = isFeedbackPath(url);
      if (own && req.method !== 'POST')
        return sendError(res, api, 405, `${url.pathname} takes POST with an x-strata-feedback header`);
      const report = reportOf(req.headers);
      const result = report && (await ctx.feedback.apply(report, caller));
      if (result) res.setHeader(FEEDBACK_HEADER, result);
      if (own) return answerFeedback(res, result);
      const exchange = { req, res, caller, url };
      if (!endpoint) return await passThrough(ctx, exchange, api);
      const body = await readBody(req, ctx.config);
      // A body keyed before (these bytes, this caller) is known by its digest (stages/known.ts):
      // nothing about it is scanned or parsed again.
      const known =
        caller.namespace === undefined
          ? undefined
          : ctx.known.find(endpoint, caller.namespace, url.search, req.headers, body.raw);
      if (known?.derived === undefined && body.unkeyed !== undefined)
        return await passUnkeyed(ctx, exchange, endpoint, body, body.unkeyed);
      // A caller whose answers have no place (no credential, no tenant header) is not keyed at all.
      if (caller.namespace === undefined)
        return await bypass(ctx, exchange, endpoint, body.raw, caller.why ?? 'the caller has no tenant');
      const request = parse(ctx, endpoint, exchange, caller.namespace, body, known);
      if (typeof request === 'string') return await bypass(ctx, exchange, endpoint, body.raw, request);
      traceCached(scope, request);
      // Embeddings are cached per input, not per request (embeddings/serve.ts).
      if (endpoint.label === 'embeddings') return await serveEmbeddings(ctx, request, caller.namespace, res);
      await this.flights.serve(request, res);
    } catch (error) {
      if (error instanceof RequestError)
        return sendError(res, api, error.status, error.message, 'bypass', error.code);
      ctx.logger.warn(`[strata] proxy: ${req.method} ${url.pathname} failed: ${errorOf(error).message}`);
      sendError(res, api, 500, 'the gateway failed to handle this request');
    }
  }
}
