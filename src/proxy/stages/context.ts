/**
 * What the gateway's stages share: its options, the cached endpoints, and the two shapes a request
 * takes on its way through (an exchange as received; a cached request once parsed and keyed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Sealer } from '../../core/encryption/keyring.js';
import type { TenantKeys } from '../../core/encryption/tenant.js';
import type { Logger } from '../../core/events.js';
import type { CacheKey } from '../../core/key.js';
import type { Tracing } from '../../core/tracing.js';
import type { ResolvedProxyConfig } from '../config.js';
import type { Controls } from '../controls.js';
import type { CanonicalRequest, Endpoint, Json } from '../endpoints/endpoint.js';
import type { Engine } from '../engine.js';
import type { Feedback } from '../feedback.js';
import type { ProxyCounters } from '../metrics.js';
import type { Caller } from '../tenancy.js';
import type { Upstream, Upstreams } from '../upstream.js';
import { logUpstream } from '../upstream-log.js';
import type { KnownRequests } from './known.js';
import type { PreparedHits } from './prepared.js';

export interface GatewayOptions {
  readonly manager: Engine;
  readonly config: ResolvedProxyConfig;
  /** The config's namespace: every tenant lives under it. */
  readonly namespace: string;
  readonly clientTokens: readonly string[];
  readonly upstreams: Upstreams;
  readonly counters: ProxyCounters;
  readonly defaultTtlSeconds: number | null;
  readonly logger: Logger;
  /** With `encryption: "per-tenant"`: each caller's sealer, derived from its credentials. */
  readonly tenantKeys?: TenantKeys;
  /** The request and upstream spans (proxy/tracing.ts), under the config's `tracing`. */
  readonly tracing: Tracing;
}

/** What every stage reads: the options, the cached endpoints by path, and the similarity answers open to feedback. */
export interface GatewayContext extends GatewayOptions {
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  readonly feedback: Feedback;
  /** What was derived from the bodies keyed most recently (known.ts). */
  readonly known: KnownRequests;
  /** The bytes hits were sent as, by entry and shape (prepared.ts). */
  readonly prepared: PreparedHits;
}

/** One request as received, once its caller is known. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly caller: Caller;
  readonly url: URL;
}

/** One cacheable request, everything the leader and its followers need. */
export interface CachedRequest {
  readonly endpoint: Endpoint;
  readonly canonical: CanonicalRequest;
  readonly controls: Controls;
  readonly caller: Caller;
  readonly upstream: Upstream;
  readonly key: CacheKey;
  /** Path and query as received. */
  readonly target: string;
  readonly headers: IncomingMessage['headers'];
  /** The body to forward: the client's, without LiteLLM's `cache` field (parsed when first read). */
  readonly body: Json;
  /**
   * The client's bytes, when they can be forwarded as they are (no `cache` field to take out):
   * re-serializing would round integers beyond 2^53 (a `seed`) and reorder nothing else.
   */
  readonly raw: Buffer | undefined;
  /** The request asks the upstream to store its answer (upstream-store.ts). */
  readonly asksToStore: boolean;
  /** The request's values of the fields its answer echoes (Endpoint.echo), as one string; '' for none. */
  readonly echo: string;
  /** With `encryption: "per-tenant"`: what this caller's entries are sealed and opened with. */
  readonly sealer?: Sealer;
}

/**
 * The request with some of its fields changed. Not a spread: a request's body is read through
 * its prototype (parsed when first read, stages/parse.ts), which a spread would leave behind.
 */
export function changed(request: CachedRequest, changes: Partial<CachedRequest>): CachedRequest {
  return Object.assign(Object.create(Object.getPrototypeOf(request)) as CachedRequest, request, changes);
}

/** The per-call sealer option of a request under per-tenant keys (none: the engine's own). */
export function sealedWith(request: CachedRequest): { sealer?: Sealer } {
  return request.sealer ? { sealer: request.sealer } : {};
}

/** The request's values of the fields its answer echoes, as one comparable string. */
export function echoOf(request: CachedRequest): string {
  return request.echo;
}

/** A warning about this request's upstream call (upstream-log.ts says what it may hold). */
export function logCall(ctx: GatewayContext, request: CachedRequest, what: string): void {
  logUpstream(ctx.logger, request.endpoint.label, request.upstream, what);
}
