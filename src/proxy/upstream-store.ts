/**
 * Requests that ask the upstream to keep the answer under its id (OpenAI chat `store: true`;
 * Responses, where `store` defaults to true) get back an id the client may use later
 * (`previous_response_id`, `GET /v1/responses/{id}`, stored completions). `store` does not change
 * the answer, so it is not in the key: a `store: false` request and a `store: true` one share an
 * entry. But an entry the upstream never stored holds an id it does not know, so such a request
 * is never answered from it: each entry records (in its metadata) the account the upstream stored
 * it for, if it did, and a request that asks to store takes only an entry stored for its own
 * account. Otherwise it goes upstream, and the answer (stored upstream this time) replaces the entry.
 *
 * The account is who can read the stored object back: the upstream's own `apiKey` when the
 * gateway sends one (every caller then shares it), else the caller's credentials (their keyed
 * digest, the caller's fingerprint in tenancy.ts; never a credential itself).
 */
import { keyedDigest } from '../core/secrets.js';
import type { Endpoint, Json } from './endpoints/endpoint.js';
import type { Caller } from './tenancy.js';
import type { Upstream } from './upstream.js';

/** The entry metadata field: the account the upstream stored the answer for. */
export const STORED_UPSTREAM = 'storedUpstream';

/** Whether the request asks the upstream to store its answer. */
export function asksUpstreamToStore(endpoint: Endpoint, body: Json): boolean {
  if (endpoint.path === '/v1/chat/completions') return body.store === true;
  // Responses stores unless told not to (`store` absent or null is the default, true).
  if (endpoint.path === '/v1/responses') return body.store !== false;
  return false;
}

/** The account the upstream stores this request's answer for; undefined when it does not store it. */
export function storeAccount(
  /** asksUpstreamToStore(), of the request. */
  asks: boolean,
  upstream: Upstream,
  caller: Caller,
): string | undefined {
  if (!asks) return undefined;
  if (upstream.key === undefined) return `caller-${caller.fingerprint}`;
  // Keyed: a plain hash of the operator's key would let anyone holding the store test guesses.
  const digest = keyedDigest(
    'strata-proxy-upstream-account',
    `${upstream.url}\u0000${upstream.key}\u0000${JSON.stringify(upstream.headers)}`,
  );
  return `upstream-${digest}`;
}

/** The account an entry's metadata says the upstream stored it for, if any. */
export function storedFor(meta: Record<string, unknown> | undefined): string | undefined {
  const value = meta?.[STORED_UPSTREAM];
  return typeof value === 'string' ? value : undefined;
}
