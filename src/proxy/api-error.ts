/**
 * An error answered in the shape the API's SDKs parse (`error.message`, `error.type`): every
 * refusal and failure the gateway itself answers, from the browser guard to a broken upstream.
 */
import type { ServerResponse } from 'node:http';
import type { ApiKind } from './endpoints/endpoint.js';

/** Anthropic's error types by status (its SDK and docs name them); the rest are `api_error`. */
const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
};

/**
 * The error, or a broken connection when the response has begun (its status is sent already).
 * A Strata error's code (STRATA_REQUEST_*, STRATA_UPSTREAM_*) goes in the `x-strata-error`
 * header, and in the OpenAI shape's `error.code` too (Anthropic's shape has no such field).
 */
export function sendError(
  res: ServerResponse,
  api: ApiKind,
  status: number,
  message: string,
  cache: 'miss' | 'bypass' = 'bypass',
  code?: string,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(
    JSON.stringify(
      api === 'anthropic'
        ? { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[status] ?? 'api_error', message } }
        : {
            error: {
              message,
              type:
                status === 401
                  ? 'authentication_error'
                  : status < 500
                    ? 'invalid_request_error'
                    : 'server_error',
              param: null,
              code: code ?? null,
            },
          },
    ),
  );
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(body.length),
    'x-strata-cache': cache,
    ...(code === undefined ? {} : { 'x-strata-error': code }),
  });
  res.end(body);
}

/** The answer to only-if-cached when there is none: it promises no upstream call. */
export function sendNotCached(res: ServerResponse, api: ApiKind, why?: string): void {
  const message = 'the answer is not in the cache (only-if-cached)';
  if (why === undefined) sendError(res, api, 504, message, 'miss');
  else sendError(res, api, 504, `${message}: ${why}`);
}
