/**
 * The parse stage: a cached endpoint's body, read and scanned (body.ts), as the cache sees it: its
 * controls, its canonical form, the upstream it goes to and its key; or why it is not cached. A
 * body seen recently (the same bytes, caller, query and keyed headers) is not parsed again: what
 * was derived from it is found by the digest of those (known.ts), and the body itself is parsed
 * only if something asks for it (a miss forwarding it, an endpoint that echoes it).
 */
import type { IncomingMessage } from 'node:http';
import type { Sealer } from '../../core/encryption/keyring.js';
import type { CacheKey } from '../../core/key.js';
import { scrubRequestBody } from '../../core/secrets.js';
import { RequestError } from '../../errors.js';
import type { Body } from '../body.js';
import type { Controls } from '../controls.js';
import { controlsOf } from '../controls.js';
import { type CanonicalRequest, type Endpoint, isObject, type Json } from '../endpoints/endpoint.js';
import type { Caller } from '../tenancy.js';
import { header } from '../tenancy.js';
import type { Upstream } from '../upstream.js';
import { asksUpstreamToStore } from '../upstream-store.js';
import type { CachedRequest, Exchange, GatewayContext } from './context.js';
import { keyOf } from './key.js';
import { type Derived, type Found, flat } from './known.js';

/** The request as the cache sees it, or why it is not cached. */
export function parse(
  ctx: GatewayContext,
  endpoint: Endpoint,
  { req, url, caller }: Exchange,
  /** The caller's namespace (a caller without one is not keyed at all). */
  namespace: string,
  scanned: Body,
  /** The request's digest and what is known of it (KnownRequests.find); undefined: not kept. */
  known: Found | undefined,
): CachedRequest | string {
  const { raw } = scanned;
  let derived = known?.derived;
  let body: Json | undefined;
  if (derived === undefined) {
    const parsed = parseBody(raw);
    if (typeof parsed === 'string') return parsed;
    if (scanned.impreciseNumber) return 'a number in the body has more digits than the key can hold exactly';
    const fresh = derive(endpoint, req.headers, url.search, namespace, parsed);
    if (typeof fresh === 'string') return fresh;
    derived = fresh;
    body = parsed.body;
    if (known !== undefined) ctx.known.set(known.digest, derived);
  }
  const { canonical, controls } = derived;
  const upstream = ctx.upstreams.pick(endpoint.api, url.pathname, derived.model);
  if (!upstream)
    throw new RequestError(
      `no upstream is configured for model ${JSON.stringify(derived.model)}`,
      'STRATA_REQUEST_NO_UPSTREAM',
    );
  const why =
    canonical.bypass ?? (controls.noCache && controls.noStore ? 'no-cache and no-store' : undefined);
  if (why) return why;
  // A keyed caller has credentials (tenant: "credential" is required with per-tenant keys).
  const sealer = ctx.tenantKeys ? ctx.tenantKeys.sealerFor(caller.credentials) : undefined;
  return new KeyedRequest(endpoint, derived, caller, upstream, url, req.headers, raw, body, sealer);
}

/** A request the cache keys, its body parsed when first read, at most once: a hit of a known body never parses it. */
class KeyedRequest implements CachedRequest {
  readonly canonical: CanonicalRequest;
  readonly controls: Controls;
  readonly key: CacheKey;
  readonly target: string;
  readonly raw: Buffer | undefined;
  readonly asksToStore: boolean;
  readonly echo: string;

  constructor(
    readonly endpoint: Endpoint,
    derived: Derived,
    readonly caller: Caller,
    readonly upstream: Upstream,
    url: URL,
    readonly headers: IncomingMessage['headers'],
    private readonly bytes: Buffer,
    private parsed: Json | undefined,
    readonly sealer: Sealer | undefined,
  ) {
    this.canonical = derived.canonical;
    this.controls = derived.controls;
    this.key = derived.key;
    this.target = url.pathname + url.search;
    this.raw = derived.hasCache ? undefined : bytes;
    this.asksToStore = derived.asksToStore;
    this.echo = derived.echo;
  }

  get body(): Json {
    if (this.parsed === undefined) {
      const parsed = parseBody(this.bytes);
      if (typeof parsed === 'string') throw new Error(`a known body no longer parses: ${parsed}`);
      this.parsed = parsed.body;
    }
    return this.parsed;
  }
}

/** The body as an object without LiteLLM's `cache` field (and that field), or why it is not one. */
function parseBody(raw: Buffer): { body: Json; cache: unknown; hasCache: boolean } | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    // The upstream says what is wrong with it, in its own words.
    return 'the body is not JSON';
  }
  if (!isObject(parsed)) return 'the body is not a JSON object';
  const { cache, ...body } = parsed;
  return { body, cache, hasCache: 'cache' in parsed };
}

/** What the cache derives from a parsed body: a function of the inputs known.ts digests, and nothing else. */
function derive(
  endpoint: Endpoint,
  headers: IncomingMessage['headers'],
  search: string,
  namespace: string,
  { body, cache, hasCache }: { body: Json; cache: unknown; hasCache: boolean },
): Derived | string {
  const controls = controlsOf(header(headers, 'cache-control'), cache);
  let canonical: CanonicalRequest;
  try {
    // Keyed and stored without the credentials a body can carry (MCP tokens, a body `api_key`):
    // each is replaced by its keyed digest, so two tokens still never share an answer.
    canonical = endpoint.canonical(scrubRequestBody(body), keyedHeaders(endpoint, headers));
  } catch (error) {
    if (error instanceof RangeError) return 'the body is nested too deeply to derive a key';
    throw error;
  }
  return {
    canonical,
    controls,
    key: keyOf(namespace, endpoint, canonical, controls, search),
    // Routed by the model as sent; `canonical.model` is its stored (scrubbed) form.
    model: typeof body.model === 'string' ? body.model : canonical.model,
    hasCache,
    asksToStore: asksUpstreamToStore(endpoint, body),
    echo: endpoint.echo?.signature(body) ?? '',
  };
}

/** JSON bytes as a value; undefined when they are not JSON. */
export function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The headers the endpoint keys, as it reads them (repeated ones joined); no other header. */
function keyedHeaders(
  endpoint: Endpoint,
  headers: IncomingMessage['headers'],
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of endpoint.keyHeaders ?? []) out[name] = flat(headers[name]);
  return out;
}
