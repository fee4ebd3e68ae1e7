/**
 * The flight stage: a keyed request leads the flight of its key (looks it up, and on a miss calls
 * the upstream through the tee) or follows the flight already under way (../flight.ts), and every
 * client gets the outcome through the respond stage.
 */
import type { ServerResponse } from 'node:http';
import { sendNotCached } from '../api-error.js';
import type { EngineHit } from '../engine.js';
import { Flight, type HitInfo, type Outcome, type StreamClient } from '../flight.js';
import { UNVERIFIED_MODEL } from '../metrics.js';
import { storedFor } from '../upstream-store.js';
import { type CachedRequest, changed, echoOf, type GatewayContext, sealedWith } from './context.js';
import { asHit, deliver, deliverTo, streamClient } from './respond.js';
import { isOutage } from './stale.js';
import { store, storeAccountOf } from './store.js';
import { teeJson, teeStream } from './tee.js';

export class Flights {
  private readonly flights = new Map<string, Flight>();
  /** The account a flight's leader asked the upstream to store its answer for (upstream-store.ts). */
  private readonly storing = new WeakMap<Flight, string>();

  constructor(private readonly ctx: GatewayContext) {}

  /** Not async itself: each async layer of a hit is a promise and a turn of the microtask queue. */
  serve(request: CachedRequest, res: ServerResponse): Promise<void> {
    const { key, controls } = request;
    const existing = controls.noCache ? undefined : this.flights.get(key.hash);
    if (existing && (existing.joinable || !request.canonical.stream))
      return this.follow(existing, request, res);
    // A stream too long to replay from its start takes no more streaming clients: a call of its own.
    if (existing) return this.lead(changed(request, { controls: { ...controls, noCache: true } }), res);
    return this.lead(request, res);
  }

  private async lead(request: CachedRequest, res: ServerResponse): Promise<void> {
    const { ctx } = this;
    const { key, controls, canonical, endpoint } = request;
    const flight = new Flight(request.caller.fingerprint, echoOf(request));
    const account = storeAccountOf(request);
    if (account !== undefined) this.storing.set(flight, account);
    const shared = !controls.noCache;
    if (shared) this.flights.set(key.hash, flight);
    res.once('close', flight.attach());
    // The leader's own stream client, made once the answer is not in the cache (nothing streams before).
    let client: StreamClient | undefined;
    const claim = !controls.noStore && !controls.onlyIfCached;
    let holdsClaim = false;
    let stored = false;
    try {
      if (!controls.noCache) {
        // Only read (answerOf, respond.ts): the engine's shared answer, not a copy of it.
        const hit = await ctx.manager.lookup(key, { claim, shared: true, ...sealedWith(request) });
        holdsClaim = claim && !hit;
        const answer = hit && this.answerOf(request, hit);
        if (answer) {
          flight.finish(answer);
          return deliver(ctx, request, res, answer, 'hit');
        }
      }
      if (controls.onlyIfCached) {
        flight.finish({ kind: 'retry' });
        ctx.counters.request(endpoint.label, UNVERIFIED_MODEL, 'miss');
        return sendNotCached(res, endpoint.api);
      }
      if (canonical.stream) {
        client = streamClient(res, canonical.includeUsage, { 'x-strata-cache': 'miss' });
        flight.follow(client);
      }
      const outcome = canonical.stream
        ? await teeStream(ctx, request, flight)
        : await teeJson(ctx, request, flight, res, () => this.forget(key.hash, flight));
      const stale = await this.staleFor(request, outcome, flight, res);
      if (stale) {
        flight.finish(stale);
        // Stored by another caller since the miss: a fresh answer, a hit like any other.
        return deliver(
          ctx,
          request,
          res,
          stale,
          stale.kind === 'answer' && stale.hit?.stale ? 'stale' : 'hit',
        );
      }
      flight.finish(outcome);
      if (!canonical.stream && outcome.kind !== 'answer') deliverTo(ctx, request, res, outcome, 'miss');
      else if (canonical.stream && !flight.isStreaming) deliverTo(ctx, request, res, outcome, 'miss');
      if (outcome.kind === 'answer' || outcome.kind === 'passed')
        ctx.counters.request(endpoint.label, canonical.model, 'miss');
      else ctx.counters.request(endpoint.label, UNVERIFIED_MODEL, 'error');
      // The answer's own size, as stored: a stream's framing (often 20x its text) does not count.
      // A JSON answer was read only up to maxStoredBytes (tee.ts); an assembled one is measured.
      if (
        outcome.kind === 'answer' &&
        !controls.noStore &&
        (!canonical.stream ||
          Buffer.byteLength(JSON.stringify(outcome.response)) <= ctx.config.maxStoredBytes)
      )
        stored = await store(ctx, request, outcome.response);
    } finally {
      if (shared) this.forget(key.hash, flight);
      if (holdsClaim && !stored) ctx.manager.release(key);
      if (client) flight.unfollow(client);
    }
  }

  /** The flight is over: identical requests arriving now start their own. */
  private forget(hash: string, flight: Flight): void {
    if (this.flights.get(hash) === flight) this.flights.delete(hash);
  }

  /**
   * The upstream call failed with an outage before any of it reached a client (stale.ts): the
   * key's expired answer kept for stale-if-error, if this request may take it (its own
   * `stale-if-error`, `max-age`, account); undefined otherwise, and the failure is the outcome.
   */
  private async staleFor(
    request: CachedRequest,
    outcome: Outcome,
    flight: Flight,
    res: ServerResponse,
  ): Promise<Outcome | undefined> {
    const { controls } = request;
    if (controls.noCache || controls.onlyIfCached || !isOutage(outcome)) return undefined;
    // Every client left (the call was aborted for it), or a client already has part of the answer.
    if (flight.abort.signal.aborted || flight.isStreaming || res.headersSent) return undefined;
    const maxStaleSeconds = controls.staleIfErrorSeconds;
    const hit = await this.ctx.manager.lookupStale(request.key, {
      ...(maxStaleSeconds === undefined ? {} : { maxStaleSeconds }),
      ...sealedWith(request),
    });
    const answer = hit && this.answerOf(request, hit);
    if (!hit || answer?.kind !== 'answer' || !answer.hit) return undefined;
    return hit.stale ? { ...answer, hit: { ...answer.hit, stale: true } } : answer;
  }

  /**
   * A stored response that may answer this request: intact, of this endpoint, fresh enough, and,
   * when the request asks the upstream to store its answer, stored upstream for the same account
   * (upstream-store.ts); otherwise the request goes upstream and its answer replaces the entry.
   */
  private answerOf(request: CachedRequest, hit: EngineHit): Outcome | undefined {
    const { endpoint, controls } = request;
    const response = hit.entry.gens[0]?.generationInfo?.response;
    if (!endpoint.isResponse(response)) return undefined;
    const account = storeAccountOf(request);
    if (account !== undefined && storedFor(hit.entry.meta) !== account) return undefined;
    const ageSeconds = Math.max(0, (this.ctx.manager.now() - hit.entry.createdAt) / 1000);
    if (controls.maxAgeSeconds !== undefined && ageSeconds > controls.maxAgeSeconds) return undefined;
    const { tier, similarity, matchedPrompt } = hit;
    const exact = similarity === undefined && matchedPrompt === undefined;
    // The engine's shared answer (frozen): what the bytes it is sent as are kept by (prepared.ts).
    const entry = Object.isFrozen(hit.entry) ? hit.entry : undefined;
    const info: HitInfo =
      exact && entry
        ? { tier, ageSeconds, entry }
        : {
            tier,
            ageSeconds,
            ...(entry ? { entry } : {}),
            ...(similarity === undefined ? {} : { similarity }),
            ...(exact ? {} : { similar: true }),
          };
    return { kind: 'answer', response, hit: info };
  }

  private async follow(flight: Flight, request: CachedRequest, res: ServerResponse): Promise<void> {
    const { ctx } = this;
    const { canonical, endpoint, controls } = request;
    // Asking the upstream to store: the leader's answer must be stored for this account too
    // (upstream-store.ts), so such a request follows only a leader that asked the same.
    const account = storeAccountOf(request);
    if (account !== undefined && this.storing.get(flight) !== account) return this.lead(request, res);
    res.once('close', flight.attach());
    // Live events echo the leader's request; a follower whose echoed fields differ waits for the
    // answer and gets it replayed with its own (deliverTo).
    const live =
      canonical.stream && flight.echo === echoOf(request)
        ? streamClient(res, canonical.includeUsage, { 'x-strata-cache': 'hit', 'x-strata-tier': 'coalesced' })
        : undefined;
    const client = live && asHit(ctx, live);
    if (client) flight.follow(client);
    const outcome = await flight.outcome;
    if (client) flight.unfollow(client);
    if (controls.onlyIfCached && (outcome.kind === 'failed' || outcome.kind === 'upstream-error')) {
      // The leader's call failed, so the answer is not in the cache: what only-if-cached is told,
      // whoever led (the leader's own error is the upstream's answer, not the cache's).
      ctx.counters.request(endpoint.label, UNVERIFIED_MODEL, 'miss');
      if (client && flight.isStreaming) return;
      return sendNotCached(res, endpoint.api);
    }
    const sameCaller = flight.fingerprint === request.caller.fingerprint;
    const stale = outcome.kind === 'answer' && outcome.hit?.stale === true;
    if (
      outcome.kind === 'retry' ||
      // The leader took a stale answer under its own controls: one that bounds staleness or age
      // itself (stale-if-error, max-age) makes its own call, and judges a stale answer by them.
      (stale && (controls.staleIfErrorSeconds !== undefined || controls.maxAgeSeconds !== undefined)) ||
      (outcome.kind === 'upstream-error' && !sameCaller) ||
      (outcome.kind === 'failed' && !sameCaller)
    ) {
      if (res.headersSent) return;
      return this.serve(request, res);
    }
    if (outcome.kind === 'answer')
      ctx.counters.request(endpoint.label, canonical.model, stale ? 'stale' : 'coalesced');
    else ctx.counters.request(endpoint.label, UNVERIFIED_MODEL, 'error');
    // A live stream already ended (or broke) every streaming client.
    if (client && flight.isStreaming) return;
    deliverTo(ctx, request, res, outcome, stale ? 'stale' : 'hit', 'coalesced');
  }
}
