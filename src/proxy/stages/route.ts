/**
 * The first stage: which endpoint a request is for (a cached one, by method and path, or none:
 * passed through) and which API's error shape it is answered in.
 */
import type { IncomingMessage } from 'node:http';
import { anthropicMessages } from '../endpoints/anthropic-messages.js';
import type { ApiKind, Endpoint } from '../endpoints/endpoint.js';
import { openaiChat } from '../endpoints/openai-chat.js';
import { openaiCompletions } from '../endpoints/openai-completions.js';
import { openaiEmbeddings } from '../endpoints/openai-embeddings.js';
import { openaiResponses } from '../endpoints/openai-responses.js';

export const ENDPOINTS: readonly Endpoint[] = [
  openaiChat,
  openaiCompletions,
  openaiEmbeddings,
  openaiResponses,
  anthropicMessages,
];

export interface Route {
  readonly url: URL;
  /** The cached endpoint; undefined for anything else, which passes through. */
  readonly endpoint: Endpoint | undefined;
  readonly api: ApiKind;
}

export function route(req: IncomingMessage, endpoints: ReadonlyMap<string, Endpoint>): Route {
  const url = urlOf(req.url ?? '');
  const endpoint = req.method === 'POST' ? endpoints.get(url.pathname) : undefined;
  return { url, endpoint, api: endpoint?.api ?? apiOf(req.headers) };
}

/**
 * Paths without a query, parsed once: clients call the same few paths. Shared, so read-only (no
 * stage changes a request's URL); a query may hold a key, so a URL with one is never kept.
 */
const paths = new Map<string, URL>();
const MAX_PATHS = 256;

function urlOf(target: string): URL {
  const kept = paths.get(target);
  if (kept !== undefined) return kept;
  // Concatenated, not resolved: `//v1/x` is a path here, not a protocol-relative URL.
  const url = new URL(`http://gateway${target.startsWith('/') ? target : `/${target}`}`);
  if (!target.includes('?') && target.length <= 256 && paths.size < MAX_PATHS) paths.set(target, url);
  return url;
}

/** Which API an unrouted request speaks: Anthropic's SDK always sends anthropic-version. */
function apiOf(headers: IncomingMessage['headers']): ApiKind {
  return headers['anthropic-version'] !== undefined || headers['x-api-key'] !== undefined
    ? 'anthropic'
    : 'openai';
}
