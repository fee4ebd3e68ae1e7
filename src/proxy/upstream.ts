/**
 * Calls to the upstream APIs, over undici: which upstream a request goes to, the headers it
 * carries (the caller's credential, or the gateway's own for that upstream), and timeouts for the
 * response's headers and for silence within its body.
 */
import type { Readable } from 'node:stream';
import { Agent, errors, request } from 'undici';
import { Tracing } from '../core/tracing.js';
import { StrataConfigError, UpstreamError } from '../errors.js';
import type { ResolvedProxyConfig, UpstreamConfig } from './config.js';
import type { ApiKind } from './endpoints/endpoint.js';
import {
  type Caller,
  credentialHeaderSet,
  type Headers,
  isCredentialHeader,
  isCredentialQuery,
} from './tenancy.js';

/** Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), plus our own. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);

export interface Upstream extends UpstreamConfig {
  /** The gateway's own credential, resolved from apiKey or apiKeyEnv. */
  readonly key: string | undefined;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Readable;
}

export class Upstreams {
  private readonly list: Upstream[];
  private readonly agent: Agent;
  private readonly credentialHeaders: ReadonlySet<string>;

  constructor(
    config: ResolvedProxyConfig,
    env: NodeJS.ProcessEnv = process.env,
    /** The upstream call's client span, whose context goes upstream in `traceparent`. */
    private readonly tracing: Tracing = new Tracing(false),
  ) {
    this.credentialHeaders = credentialHeaderSet(config);
    this.list = config.upstreams.map((u, i) => {
      if (u.apiKeyEnv === undefined) return { ...u, key: u.apiKey };
      const key = env[u.apiKeyEnv];
      if (!key)
        throw new StrataConfigError([
          {
            path: `proxy.upstreams[${i}].apiKeyEnv`,
            message: `environment variable ${u.apiKeyEnv} is not set`,
          },
        ]);
      return { ...u, key };
    });
    this.agent = new Agent({
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.idleTimeoutMs,
      connectTimeout: Math.min(config.timeoutMs, 10_000),
    });
  }

  /**
   * The first upstream of this API whose match holds. For a request the gateway does not cache,
   * `model` is unknown and only path matches count.
   */
  pick(api: ApiKind, path: string, model: string | undefined): Upstream | undefined {
    return this.list.find(
      (u) =>
        u.api === api &&
        (u.match.path === undefined || path.startsWith(u.match.path)) &&
        (u.match.model === undefined || model?.startsWith(u.match.model) === true),
    );
  }

  async send(
    upstream: Upstream,
    o: {
      method: string;
      path: string;
      headers: Headers;
      caller: Caller;
      body: Buffer | Readable | null;
      signal: AbortSignal;
    },
  ): Promise<UpstreamResponse> {
    const call = this.tracing.client('strata.gateway.upstream', upstreamAttributes(upstream, o.method));
    try {
      const path = upstream.key === undefined ? o.path : withoutCredentialQuery(o.path);
      const headers = outgoingHeaders(upstream, o.headers, o.caller, this.credentialHeaders);
      // The upstream sees this call's span as its parent: the same trace as the client's.
      call?.inject(headers);
      const res = await request(`${upstream.url}${path}`, {
        method: o.method as 'POST',
        headers,
        body: o.body,
        signal: o.signal,
        dispatcher: this.agent,
      });
      if (call) {
        call.set('http.response.status_code', res.statusCode);
        // The span lasts until the body (a stream) ends or is abandoned.
        res.body.once('close', () => call.end(res.statusCode >= 500 ? String(res.statusCode) : undefined));
      }
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (error) {
      const failure = asUpstreamError(error);
      call?.end(failure.code);
      throw failure;
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** What the upstream call's span says of where it goes: the host and port, never the URL's credentials or path. */
function upstreamAttributes(upstream: Upstream, method: string): Record<string, string | number> {
  const url = new URL(upstream.url);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return {
    'http.request.method': method,
    'server.address': url.hostname,
    'server.port': port,
    'gen_ai.provider.name': upstream.api,
  };
}

export function asUpstreamError(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (error instanceof errors.HeadersTimeoutError || error instanceof errors.ConnectTimeoutError)
    return new UpstreamError('the upstream did not answer in time', 'STRATA_UPSTREAM_TIMEOUT', {
      cause: error,
    });
  if (error instanceof errors.BodyTimeoutError)
    return new UpstreamError('the upstream stalled mid-response', 'STRATA_UPSTREAM_STALLED', {
      cause: error,
    });
  const code = (error as { code?: string }).code;
  return new UpstreamError(
    `the upstream could not be reached${code ? ` (${code})` : ''}`,
    'STRATA_UPSTREAM_UNREACHABLE',
    { cause: error },
  );
}

/**
 * The client's headers minus hop-by-hop ones and the gateway's own, with the right credential.
 * Where the gateway sends its own key, every credential the caller sent is left out (an
 * organization or project header too): the caller must not choose what the operator's key pays
 * for, nor reach the upstream with a second key beside it.
 */
function outgoingHeaders(
  upstream: Upstream,
  incoming: Headers,
  caller: Caller,
  credentialHeaders: ReadonlySet<string>,
): Record<string, string | string[]> {
  const connectionScoped = new Set(
    String(incoming.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase()),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionScoped.has(name)) continue;
    if (name.startsWith('x-strata-') || name === 'cache-control') continue;
    if (name === caller.tokenHeader) continue;
    if (upstream.key !== undefined && isCredentialHeader(name, credentialHeaders)) continue;
    out[name] = value;
  }
  Object.assign(out, upstream.headers);
  if (upstream.key !== undefined) {
    if (upstream.api === 'anthropic') out['x-api-key'] = upstream.key;
    else out.authorization = `Bearer ${upstream.key}`;
  }
  return out;
}

/** A path whose credential query parameters (`?key=`, `?api-key=`) are left out; untouched when it has none. */
function withoutCredentialQuery(path: string): string {
  const at = path.indexOf('?');
  if (at < 0) return path;
  const params = new URLSearchParams(path.slice(at + 1));
  const names = [...new Set(params.keys())].filter(isCredentialQuery);
  if (names.length === 0) return path;
  for (const name of names) params.delete(name);
  const rest = params.toString();
  return rest === '' ? path.slice(0, at) : `${path.slice(0, at)}?${rest}`;
}

/**
 * The upstream's response headers a client may see (hop-by-hop and length/encoding are the
 * gateway's). CORS is the gateway's too (browser.ts): an upstream's `access-control-allow-origin:
 * *` would let any page read what the operator's key paid for. Its `Vary` gains `Origin`, since
 * the gateway's answer depends on it and this `Vary` replaces the one browser.ts set.
 */
export function clientHeaders(
  headers: UpstreamResponse['headers'],
  keepLength: boolean,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || (HOP_BY_HOP.has(name) && !(keepLength && name === 'content-length'))) continue;
    if (name.startsWith('access-control-')) continue;
    out[name] = name === 'vary' ? varyWithOrigin(value) : value;
  }
  return out;
}

function varyWithOrigin(value: string | string[]): string {
  const names = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim());
  return names.some((n) => n === '*' || n.toLowerCase() === 'origin')
    ? names.join(', ')
    : [...names.filter((n) => n.length > 0), 'Origin'].join(', ');
}
