/**
 * The gateway's config: the `proxy` section of a Strata config file (the tiers, namespace, TTL and
 * monitoring around it are the library's). Like the rest of the config, unknown fields are errors
 * and every error names its path (`proxy.upstreams[0].url`).
 */
import { z } from 'zod';
import { positiveInt, timerMs } from '../config/fields.js';
import { bindHost, hostProblem, isLoopback } from '../http/bind-host.js';

export const DEFAULT_PROXY_PORT = 8787;

const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name')
  .transform((h) => h.toLowerCase());

/**
 * An origin as a browser sends it in `Origin`: `scheme://host[:port]`, nothing after. http and
 * https ones are normalized as browsers serialize them (lower case, punycode, no default port), so
 * `https://App.example.com:443` matches what the browser sends. Neither `*` nor `null` is one:
 * either would let any web page spend the upstream credit and read the answers.
 */
const corsOrigin = z.string().transform((value, ctx) => {
  const origin = originOf(value);
  if (typeof origin === 'string') return origin;
  ctx.addIssue({ code: 'custom', message: origin.error });
  return z.NEVER;
});

function originOf(value: string): string | { error: string } {
  if (value === '*')
    return {
      error:
        'must be an exact origin, not *: any web page could then use the gateway (and its upstream keys) and read the answers',
    };
  if (value.toLowerCase() === 'null')
    return {
      error:
        'null cannot be allowed: it is the origin of sandboxed frames and file: pages, which any web page can create',
    };
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#@\s]+)$/i.exec(value);
  const scheme = match?.[1]?.toLowerCase();
  const shape =
    'must be an origin, scheme://host[:port] with no path (not even /), like https://app.example.com';
  if (!match || scheme === 'file') return { error: shape };
  if (scheme !== 'http' && scheme !== 'https') {
    // chrome-extension://<id>, tauri://localhost, app://...: the browser sends them as written.
    return /^[a-z0-9.-]+(:\d{1,5})?$/i.test(match[2]!) ? value.toLowerCase() : { error: shape };
  }
  let origin: string;
  try {
    origin = new URL(value).origin;
  } catch {
    return { error: shape };
  }
  // URL keeps some characters no DNS name has (`*`): a pattern would never match a browser's Origin.
  return /^https?:\/\/([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d+)?$/.test(origin) ? origin : { error: shape };
}

export const upstreamSchema = z
  .strictObject({
    /** Origin (and optional path prefix) the request path is appended to: `https://api.openai.com`. */
    url: z
      .string()
      .regex(
        /^https?:\/\/[^/?#]+(\/[^?#]*)?$/,
        'must be an http:// or https:// URL without query or fragment',
      )
      .transform((u) => u.replace(/\/+$/, ''))
      .refine(
        (u) => !/\/v1$/.test(u),
        'must not end in /v1: the request path (/v1/chat/completions, ...) is appended to it; give https://api.openai.com, not https://api.openai.com/v1',
      ),
    /** Which API the upstream speaks: decides the credential header and which endpoints go to it. */
    api: z.enum(['openai', 'anthropic']),
    /** Which requests go here: a path prefix, a model prefix, both, or (empty) every request of its API. */
    match: z
      .strictObject({
        path: z.string().startsWith('/', 'must start with /').optional(),
        model: z.string().min(1).optional(),
      })
      .default({}),
    /**
     * The gateway's own credential for this upstream, sent instead of the caller's. `apiKeyEnv`
     * names an environment variable holding it, so a config file carries no secret.
     */
    apiKey: z.string().min(1).optional(),
    apiKeyEnv: z.string().min(1).optional(),
    /** Extra headers sent upstream with every request (an organization, a project). */
    headers: z.record(z.string(), z.string()).default({}),
  })
  .superRefine((u, ctx) => {
    if (u.apiKey !== undefined && u.apiKeyEnv !== undefined)
      ctx.addIssue({ code: 'custom', path: ['apiKeyEnv'], message: 'give apiKey or apiKeyEnv, not both' });
  });

export const proxyConfigSchema = z
  .strictObject({
    /** Where to listen: a name or an address; an IPv6 address with or without brackets (`::1`, `[::1]`). */
    host: z
      .string()
      .min(1, 'must not be empty')
      .superRefine((h, ctx) => {
        const problem = h === '' ? undefined : hostProblem(h);
        if (problem) ctx.addIssue({ code: 'custom', message: `${problem} (got ${JSON.stringify(h)})` });
      })
      .transform(bindHost)
      .default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(DEFAULT_PROXY_PORT),
    upstreams: z.array(upstreamSchema).min(1, 'needs at least one upstream'),
    /**
     * Whose answers a request may see. `credential` (default): a keyed digest of every credential
     * the caller presents (see tenancy.ts), so two callers that differ in any never share, and a
     * request with none is not cached. `shared`: every caller shares (a gateway behind one team's
     * own authentication). `{ header }`: the value of that request header (a request without it
     * is not cached).
     */
    tenant: z
      .union([z.literal('credential'), z.literal('shared'), z.strictObject({ header: headerName })])
      .default('credential'),
    /**
     * More request headers that identify the caller, beside the built-in list (the providers' and
     * common gateways' key headers) and every header named like a credential: an in-house
     * gateway's `x-acme-user`, say. Their values become part of the tenant, never stored.
     */
    credentialHeaders: z.array(headerName).default([]),
    /**
     * Tokens a client must present (`Authorization: Bearer`, `x-api-key` or `x-strata-token`).
     * Required to listen anywhere but loopback. `clientTokensEnv` names an environment variable
     * holding a comma-separated list.
     */
    clientTokens: z.array(z.string().min(16, 'must be at least 16 characters')).default([]),
    clientTokensEnv: z.string().min(1).optional(),
    /** How long to wait for the upstream's response headers. */
    timeoutMs: timerMs.default(600_000),
    /** Longest silence allowed between two pieces of an upstream body (a stalled stream). */
    idleTimeoutMs: timerMs.default(120_000),
    /** Larger request bodies are refused with 413. */
    maxRequestBytes: positiveInt.default(32 * 1024 * 1024),
    /**
     * Larger request bodies are forwarded and not cached, never parsed. Keying a body parses it,
     * writes its canonical text and hashes that on the event loop, where every other client
     * waits: about 6 ms per MiB measured (bench/README.md, proxy), so some 50 ms at 8 MiB, and
     * it holds a few copies of the body meanwhile. A million tokens of text is about 4 MiB, so
     * every text request is keyed; larger bodies are mostly inline images and files.
     */
    maxKeyedBytes: positiveInt.default(8 * 1024 * 1024),
    /**
     * Larger answers (their JSON, as stored: not a stream's framing) are passed through and not
     * stored. Also what one call holds for streaming clients that join late, and about what a slow
     * client may fall behind the others before it is cut off.
     */
    maxStoredBytes: positiveInt.default(8 * 1024 * 1024),
    /**
     * A stream longer than this is cut (clients see a broken stream, nothing is stored, the call is
     * aborted): an upstream that loops without end would otherwise hold a call, and spend credit,
     * forever, since it is never silent long enough for idleTimeoutMs. Far above real answers:
     * 128k output tokens are about 40 MB of chat chunks, more with logprobs or audio.
     */
    maxStreamBytes: positiveInt.default(256 * 1024 * 1024),
    /**
     * Ask the upstream for the usage chunk on every streamed OpenAI request (clients that did not
     * ask never see it), so that savings count streamed answers too.
     */
    streamUsage: z.boolean().default(true),
    /**
     * What a hit's `usage` says: `zero` (default) billed tokens, with the stored counts under
     * `strata.usage`, so clients that sum usage count only upstream calls; or the `original` counts.
     */
    hitUsage: z.enum(['zero', 'original']).default('zero'),
    /**
     * Web pages allowed to call the gateway from a browser. A page's request reaches the upstream
     * with the operator's own key (apiKey / apiKeyEnv) or the tenant's cached answers, so any
     * request a browser marks as sent by a page (an `Origin` header, or `Sec-Fetch-Site:
     * cross-site | same-site`) is refused unless its origin is listed here; listed origins get CORS
     * answers (browser.ts). Exact origins only: a wildcard would reopen the gateway to every site.
     */
    cors: z.strictObject({ origins: z.array(corsOrigin).default([]) }).default({ origins: [] }),
    /**
     * `per-tenant`: every entry is sealed under a key derived (HKDF) from the credentials its caller
     * presents, salted with the config's active `encryption` key when there is one
     * (core/encryption/tenant.ts), so a stolen database cannot be read without the callers' API
     * keys (and the master key). Needs `tenant: "credential"`. Absent: entries are sealed as the
     * rest of the cache is (the top-level `encryption`, or not at all).
     */
    encryption: z.literal('per-tenant').optional(),
    /** Serve metrics, the JSON API and the dashboard on this port too (`strata proxy`). */
    monitorPort: z.number().int().min(0).max(65_535).optional(),
  })
  .superRefine((p, ctx) => {
    if (
      hostProblem(p.host) === undefined &&
      !isLoopback(p.host) &&
      p.clientTokens.length === 0 &&
      p.clientTokensEnv === undefined
    )
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: `refusing to listen on ${p.host} without clientTokens (or clientTokensEnv): anyone reaching it could spend your upstream credit and read cached answers`,
      });
    if (p.encryption === 'per-tenant' && p.tenant !== 'credential')
      ctx.addIssue({
        code: 'custom',
        path: ['encryption'],
        message: `"per-tenant" derives each caller's key from its credentials, so it needs tenant: "credential" (the default), not ${JSON.stringify(p.tenant)}: callers who share entries would not share keys`,
      });
    for (const issue of shadowedUpstreams(p.upstreams)) ctx.addIssue({ code: 'custom', ...issue });
  });

/**
 * Upstreams no request can reach: the first upstream whose API and match fit takes a request, so
 * an upstream is dead when an earlier one of its API matches everything it matches (no match, or
 * a prefix of its own). Silently sending `llama-` models to api.openai.com is worse than refusing
 * to start: the error names the field and the upstream in the way.
 */
function shadowedUpstreams(
  upstreams: ReadonlyArray<z.output<typeof upstreamSchema>>,
): Array<{ path: Array<string | number>; message: string }> {
  const covers = (outer: string | undefined, inner: string | undefined) =>
    outer === undefined || inner?.startsWith(outer) === true;
  const issues: Array<{ path: Array<string | number>; message: string }> = [];
  upstreams.forEach((u, j) => {
    const i = upstreams.findIndex(
      (earlier, k) =>
        k < j &&
        earlier.api === u.api &&
        covers(earlier.match.path, u.match.path) &&
        covers(earlier.match.model, u.match.model),
    );
    if (i < 0) return;
    const { url, match } = upstreams[i]!;
    const what = [
      `every ${u.api} request`,
      ...(match.path === undefined ? [] : [`under ${match.path}`]),
      ...(match.model === undefined ? [] : [`for a model starting with ${JSON.stringify(match.model)}`]),
    ].join(' ');
    issues.push({
      path: ['upstreams', j, 'match'],
      message: `can never be used: upstreams[${i}] (${url}) comes first and takes ${what}; the first upstream that matches wins, so list the more specific one first`,
    });
  });
  return issues;
}

export type ProxyConfig = z.input<typeof proxyConfigSchema>;
export type ResolvedProxyConfig = z.output<typeof proxyConfigSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
