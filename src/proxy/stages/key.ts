/**
 * The cache key of a parsed request: the tenant's namespace, an llm string naming the model, the
 * endpoint and the body's sub-namespace, and the request's canonical prompt.
 */
import { type CacheKey, deriveKey } from '../../core/key.js';
import { scrubString } from '../../core/secrets.js';
import type { Controls } from '../controls.js';
import type { CanonicalRequest, Endpoint } from '../endpoints/endpoint.js';

export function keyOf(
  namespace: string,
  endpoint: Endpoint,
  canonical: CanonicalRequest,
  controls: Controls,
  /** The URL's query, as received ('' for none). */
  search: string,
): CacheKey {
  // The body's sub-namespace is part of the llm string, not of the namespace: JSON keeps every
  // (tenant, sub-namespace) pair apart, and clearing a tenant clears all of its sub-namespaces.
  const llmString = JSON.stringify({
    model: canonical.model,
    endpoint: endpoint.label,
    ...(controls.namespace === undefined ? {} : { namespace: controls.namespace }),
  });
  // A key in the query string (`?key=`, `?api-key=`) enters the key as its digest only.
  const prompt = search ? `${scrubString(search)}\n${canonical.prompt}` : canonical.prompt;
  return { ...deriveKey(namespace, llmString, prompt), question: canonical.question };
}
