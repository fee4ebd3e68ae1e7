/**
 * The gateway's config: the `proxy` section of a Strata config file (the tiers, namespace, TTL and
 * monitoring around it are the library's). Like the rest of the config, unknown fields are errors
 * and every error names its path (`proxy.upstreams[0].url`).
 */
import { z } from 'zod';
import { positiveInt, timerMs } from '../config/fields.js';
import { isLoopback } from '../monitor/access.js';

export const DEFAULT_PROXY_PORT = 8787;

const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name')
  .transform((h) => h.toLowerCase());

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
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65_535).default(DEFAULT_PROXY_PORT),
    upstreams: z.array(upstreamSchema).min(1, 'needs at least one upstream'),
    /**
     * Whose answers a request may see. `credential` (default): a digest of the caller's upstream
     * credential (or client token), so two API keys never share. `shared`: every caller shares.
     * `{ header }`: the value of that request header (a request without it is not cached).
     */
    tenant: z
      .union([z.literal('credential'), z.literal('shared'), z.strictObject({ header: headerName })])
      .default('credential'),
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
    /** Larger responses are passed through and not stored. */
    maxStoredBytes: positiveInt.default(8 * 1024 * 1024),
    /**
     * Ask the upstream for the usage chunk on every streamed OpenAI request (clients that did not
     * ask never see it), so that savings count streamed answers too.
     */
    streamUsage: z.boolean().default(true),
    /** Serve metrics, the JSON API and the dashboard on this port too (`strata proxy`). */
    monitorPort: z.number().int().min(0).max(65_535).optional(),
  })
  .superRefine((p, ctx) => {
    if (!isLoopback(p.host) && p.clientTokens.length === 0 && p.clientTokensEnv === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['host'],
        message: `refusing to listen on ${p.host} without clientTokens (or clientTokensEnv): anyone reaching it could spend your upstream credit and read cached answers`,
      });
  });

export type ProxyConfig = z.input<typeof proxyConfigSchema>;
export type ResolvedProxyConfig = z.output<typeof proxyConfigSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
