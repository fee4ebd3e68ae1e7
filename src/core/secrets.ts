/**
 * What of LangChain's llmKey may reach a tier: the only place that decides it.
 *
 * LangChain builds an llmKey as `name:JSON.stringify(value)` pairs, sorted and joined by commas
 * (`BaseLanguageModel._getSerializedCacheKeyParametersForCall`). It is not JSON: names are bare,
 * and a value JSON cannot express (a custom `fetch`) is written as `undefined`. It holds the
 * model's identifying parameters (for the OpenAI family its whole client configuration: key,
 * URL, headers) plus the call options (tools, response formats, schemas, a `signal`).
 *
 * The rule is "replace, never delete on a guess": a cache key that loses a difference between two
 * requests answers one with the other's answer, the worst thing a cache can do.
 *
 * - Left out, and only these: the provider call's own credential, where a provider class keeps
 *   it (`CREDENTIAL_FIELDS` as a top-level pair or in a client-config object, the standard auth
 *   headers and key query parameters of its default headers and query), and call options that are
 *   not part of the request (`NOT_REQUEST_OPTIONS`: `signal`, `timeout`, `callbacks`, ...). A
 *   credential says who pays, not what is answered: a rotated API key keeps its answers.
 * - Digested: everything else that looks secret, by name (`password`, `x-upstream-pat`, `psk`,
 *   `client_cert_key`, any credential-like header or query name) or by shape (`Bearer ...`,
 *   `sk-...`, JWTs, PEM keys, URL user info, key query parameters, random-looking URL path
 *   segments and webhook URLs, `token: ...` pairs inside text, JSON nested in strings), wherever it
 *   sits. It is replaced by `[secret:hmac:<32 hex>]`, an HMAC-SHA-256 under the digest key: two
 *   values never share a marker, one value always gets the same one, and a short secret (a PIN)
 *   cannot be recovered from the store by trying them all. The key comes from an environment
 *   variable (`STRATA_DIGEST_KEY`, or the one the config's `digestKeyEnv` names; at least 32
 *   bytes); without one a random per-process key is used, and the first digest made with it
 *   warns (entries holding such values are not shared across processes or restarts).
 * - Never touched: the request itself. Every field in `REQUEST_FIELDS` (tools, messages, stop
 *   sequences, response formats), and any JSON Schema wherever it sits (Google's `responseSchema`,
 *   Ollama's `format`, vLLM's `extra_body.guided_json`): a property named `password` is a field
 *   the model fills in. Free text elsewhere (Cohere's `preamble`) keeps every byte but its
 *   secret-shaped parts, which are digested: "token: alpha123" and "token: beta456" stay apart.
 *
 * Sanitizing is idempotent (a stored llm string sanitizes to itself, as imports check): markers
 * are never digested again. What cannot be parsed is never stored as it is (fail closed): it is
 * replaced by its digest, and the caller is told why (`SanitizedLlmKey.problem`).
 *
 * The parts live in `secrets/`, one job each: `digest-key.ts` (the key and its warning),
 * `markers.ts` (what a secret becomes), `names.ts` (secret by name), `fields.ts` (fields with a
 * fixed role), `json-schema.ts`, `text.ts` (secret by shape in free text), `values.ts` (strings,
 * structures, request bodies, header maps) and `llm-key.ts` (the llmKey as a whole). This module
 * is what the rest of Strata imports.
 */
export {
  DIGEST_KEY_ENV,
  digestKeyGeneration,
  EPHEMERAL_DIGEST_WARNING,
  ephemeralDigestKey,
  keyedDigest,
  onEphemeralDigest,
  setDigestKey,
  useDigestKeyFromEnv,
} from './secrets/digest-key.js';
export {
  CREDENTIAL_FIELDS,
  CREDENTIAL_HEADERS,
  CREDENTIAL_QUERY_PARAMS,
  isMapField,
  NOT_REQUEST_OPTIONS,
  REQUEST_FIELDS,
} from './secrets/fields.js';
export { parseLangChainKey, type SanitizedLlmKey, sanitizeLlmKeyText } from './secrets/llm-key.js';
export { secretMarker } from './secrets/markers.js';
export { isSecretFieldName } from './secrets/names.js';
export { scrubRequestBody, scrubString } from './secrets/values.js';
