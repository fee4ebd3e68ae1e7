/**
 * The parse stage: a cached endpoint's body, read and scanned (body.ts), as the cache sees it: its
 * controls, its canonical form, the upstream it goes to and its key; or why it is not cached.
 */
import type { IncomingMessage } from 'node:http';
import { scrubRequestBody } from '../../core/secrets.js';
import { RequestError } from '../../errors.js';
import type { Body } from '../body.js';
import { controlsOf } from '../controls.js';
import { type CanonicalRequest, type Endpoint, isObject } from '../endpoints/endpoint.js';
import { header } from '../tenancy.js';
import type { CachedRequest, Exchange, GatewayContext } from './context.js';
import { keyOf } from './key.js';

/** The request as the cache sees it, or why it is not cached. */
export function parse(
  ctx: GatewayContext,
  endpoint: Endpoint,
  { req, url, caller }: Exchange,
  /** The caller's namespace (a caller without one is not keyed at all). */
  namespace: string,
  scanned: Body,
): CachedRequest | string {
  const { raw } = scanned;
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
  const upstream = ctx.upstreams.pick(endpoint.api, url.pathname, model);
  if (!upstream)
    throw new RequestError(
      `no upstream is configured for model ${JSON.stringify(model)}`,
      'STRATA_REQUEST_NO_UPSTREAM',
    );
  const why =
    canonical.bypass ?? (controls.noCache && controls.noStore ? 'no-cache and no-store' : undefined);
  if (why) return why;
  return {
    endpoint,
    canonical,
    controls,
    caller,
    upstream,
    key: keyOf(namespace, endpoint, canonical, controls, url.search),
    target: url.pathname + url.search,
    headers: req.headers,
    body,
    raw: 'cache' in parsed ? undefined : raw,
    // A keyed caller has credentials (tenant: "credential" is required with per-tenant keys).
    ...(ctx.tenantKeys ? { sealer: ctx.tenantKeys.sealerFor(caller.credentials) } : {}),
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

function flatHeaders(headers: IncomingMessage['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
