/**
 * Stale-if-error in the gateway (core/stale.ts): when a leader's upstream call fails with an
 * outage before any of its answer reached a client, the key's expired answer kept for the grace
 * answers instead, for the leader and every follower of its flight, as JSON or replayed as a
 * stream, with `x-strata-cache: stale`. It is never stored back.
 */
import type { Outcome } from '../flight.js';
import type { CachedRequest, GatewayContext } from './context.js';

/**
 * Whether an outcome is an outage a stale answer may stand in for: the upstream answered 429 or
 * a 5xx, or a stream whose first answer-bearing event is an overload error (tee.ts: the events
 * before it carry none, endpoints/lead-in.ts), or could not be reached, timed out or broke off
 * before any answer (the gateway's 502 and 504). A 4xx of the request's own (a 400, a 401)
 * surfaces, as does an error the upstream reported in a stream clients already had.
 */
export function isOutage(outcome: Outcome): boolean {
  if (outcome.kind !== 'upstream-error' && outcome.kind !== 'failed') return false;
  if (outcome.kind === 'upstream-error' && outcome.outage) return true;
  if (outcome.kind === 'failed' && outcome.reported) return false;
  return outcome.status === 429 || (outcome.status >= 500 && outcome.status <= 599);
}

/**
 * Whether this request may be answered stale, so a stream's clients get their headers only with
 * its first answer-bearing event (a stream that breaks before it can still be answered stale; the
 * events before it are held back, tee.ts): the request reads
 * the cache and a grace applies, its own or the config's.
 */
export function staleMayAnswer(ctx: GatewayContext, request: CachedRequest): boolean {
  const { controls } = request;
  if (controls.noCache || controls.onlyIfCached) return false;
  return (controls.staleIfErrorSeconds ?? ctx.manager.staleIfErrorSeconds) > 0;
}
