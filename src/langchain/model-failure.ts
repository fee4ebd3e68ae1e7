/**
 * Which failures of a model call may be answered with a stale entry (core/stale.ts): the provider
 * is down or refusing load, not the request wrong. An HTTP status says it where the error carries
 * one (OpenAI's, Anthropic's and most SDKs' errors, LangChain's wrappers of them; ollama's
 * `status_code`; the AWS SDK's `$metadata.httpStatusCode`): 429 or 5xx; any other status (a 400,
 * a 401) is the request's fault and must surface. Without a status: the type of the provider's
 * error body, for an error event a stream sent after its HTTP 200 (Anthropic's `overloaded_error`,
 * OpenAI's `server_error`); a connection refused, reset or timed out (Node's and undici's codes,
 * the SDKs' connection errors, a `timeout` call option running out). A call the caller aborted is not an outage. Anything else
 * is not known to be one, and surfaces: a stale answer to a call that failed for a reason of its
 * own would hide the reason.
 */

import { OUTAGE_ERROR_TYPES } from '../core/stale.js';

const OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** Error classes of the provider SDKs (openai, @anthropic-ai/sdk) and of undici that mean "unreachable". */
const OUTAGE_NAMES = new Set([
  'TimeoutError',
  'APIConnectionError',
  'APIConnectionTimeoutError',
  'ConnectTimeoutError',
  'HeadersTimeoutError',
  'BodyTimeoutError',
  'SocketError',
]);

/** The body types that mean the request itself is wrong: they surface, whatever the causes say. */
const REQUEST_TYPES = new Set([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
]);

/** How deep an error's `cause` chain is followed (wrappers of wrappers). */
const MAX_CAUSES = 5;

/**
 * Whether a model call's error is an outage a stale answer may stand in for. `signal`: the call's
 * abort signal; aborted by the caller, the call was not failed by the provider (a timeout's
 * abort, whose reason is a TimeoutError, is an outage).
 */
export function isModelOutage(error: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return isTimeoutReason(signal.reason);
  let e: unknown = error;
  for (let depth = 0; depth < MAX_CAUSES && e !== null && typeof e === 'object'; depth++) {
    const fields = e as Record<string, unknown>;
    const status = statusOf(fields);
    if (status !== undefined) return status === 429 || (status >= 500 && status <= 599);
    const type = bodyTypeOf(fields);
    if (type !== undefined && OUTAGE_ERROR_TYPES.has(type)) return true;
    if (type !== undefined && REQUEST_TYPES.has(type)) return false;
    if (typeof fields.code === 'string' && OUTAGE_CODES.has(fields.code)) return true;
    if (typeof fields.name === 'string' && OUTAGE_NAMES.has(fields.name)) return true;
    // LangChain's own code for a provider's rate limit (its wrappers of 429s).
    if (fields.lc_error_code === 'MODEL_RATE_LIMIT') return true;
    e = fields.cause;
  }
  return false;
}

function statusOf(fields: Record<string, unknown>): number | undefined {
  const response = fields.response as { status?: unknown } | undefined;
  const metadata = fields.$metadata as { httpStatusCode?: unknown } | undefined;
  const candidates = [
    fields.status,
    fields.statusCode,
    response?.status,
    fields.status_code, // ollama's ResponseError (ChatOllama)
    metadata?.httpStatusCode, // the AWS SDK's service exceptions (ChatBedrockConverse)
  ];
  for (const value of candidates) {
    if (typeof value === 'number' && Number.isInteger(value) && value >= 100 && value <= 599) return value;
  }
  return undefined;
}

/**
 * The provider's error type, where the error carries its body: `error.error.error.type`
 * (Anthropic's SDK keeps the whole event, `{ type: 'error', error: { type } }`),
 * `error.error.type` (OpenAI's keeps the inner object), `error.type` (OpenAI's copies it there).
 * The most specific wins: the envelope's own `type: 'error'` says nothing.
 */
function bodyTypeOf(fields: Record<string, unknown>): string | undefined {
  const body = objectOf(fields.error);
  const inner = objectOf(body?.error);
  for (const value of [inner?.type, body?.type, fields.type]) {
    if (typeof value === 'string' && (OUTAGE_ERROR_TYPES.has(value) || REQUEST_TYPES.has(value)))
      return value;
  }
  return undefined;
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}

function isTimeoutReason(reason: unknown): boolean {
  return (
    reason !== null && typeof reason === 'object' && (reason as { name?: unknown }).name === 'TimeoutError'
  );
}
