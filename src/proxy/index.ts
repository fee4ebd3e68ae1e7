/**
 * createProxy: the caching gateway as a function. It opens the engine from the same config as
 * createCache (tiers, namespace, TTL, monitoring) plus the config's `proxy` section, and returns
 * a request handler to mount in an existing Node server, or `listen()` for a server of its own.
 * No LangChain here: the gateway runs where LangChain is not installed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig, type ResolvedConfig, type StrataConfig } from '../config/schema.js';
import { Keyring } from '../core/encryption/keyring.js';
import { TenantKeys } from '../core/encryption/tenant.js';
import { ephemeralDigestKey } from '../core/secrets.js';
import { Tracing } from '../core/tracing.js';
import { type CreateOptions, createStrata } from '../engine/create.js';
import type { Strata } from '../engine/strata.js';
import { StrataConfigError } from '../errors.js';
import { urlHost } from '../http/bind-host.js';
import { createMonitor, type Monitor } from '../monitor/index.js';
import { startServer } from '../monitor/server.js';
import type { ResolvedProxyConfig } from './config.js';
import { Gateway } from './gateway.js';
import { ProxyCounters } from './metrics.js';
import { MAX_ROOT_NAMESPACE } from './tenancy.js';
import { Upstreams } from './upstream.js';

export interface ProxyOptions extends CreateOptions {
  /** Environment to read `apiKeyEnv` and `clientTokensEnv` from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface StrataProxy {
  /** The engine behind the gateway (stats, health, invalidation; `createCache(proxy.strata)` for a LangChain view of it). */
  readonly strata: Strata;
  /** Metrics, savings and alerts, as `strata serve` shows them, plus per-route gateway counters. */
  readonly monitor: Monitor;
  /** The gateway's own counters by route, model and cache status. */
  readonly counters: ProxyCounters;
  /** A Node request handler; answers every request (pass-through included), never throws. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /**
   * Listens on the config's host and port (0: any free port); with `monitorPort`, serves the
   * dashboard there too. Returns the base URL (`http://127.0.0.1:8787`).
   */
  listen(): Promise<string>;
  /** Where `monitorPort` serves metrics and the dashboard, once listening. */
  readonly monitorUrl: string | undefined;
  /** Stops listening, lets requests under way finish (up to `graceMs`), closes the cache. */
  close(graceMs?: number): Promise<void>;
}

export async function createProxy(
  config: StrataConfig | ResolvedConfig,
  options: ProxyOptions = {},
): Promise<StrataProxy> {
  const resolved = parseConfig(config);
  const proxy = resolved.proxy;
  if (!proxy) throw new StrataConfigError([{ path: 'proxy', message: 'is required to run the gateway' }]);
  const env = options.env ?? process.env;
  const clientTokens = tokensOf(proxy, env);
  const tracing = new Tracing(resolved.tracing);
  const upstreams = new Upstreams(proxy, env, tracing);
  const logger = options.logger ?? { warn: (m: string) => console.warn(m) };
  if (resolved.namespace.length > MAX_ROOT_NAMESPACE)
    throw new StrataConfigError([
      {
        path: 'namespace',
        message: `the gateway keeps each tenant under the namespace, so it may be at most ${MAX_ROOT_NAMESPACE} characters`,
      },
    ]);
  const strata = await createStrata(resolved, options);
  const ephemeral = proxy.tenant === 'credential' ? ephemeralDigestKey() : undefined;
  if (ephemeral)
    logger.warn(
      `[strata] proxy: tenants are keyed digests of the callers' credentials under a random key of this process (${ephemeral}): entries in persistent tiers will not be found again after a restart. Set ${resolved.digestKeyEnv} (32+ bytes, e.g. \`openssl rand -hex 32\`) to keep them.`,
    );
  const tenantKeys = proxy.encryption === 'per-tenant' ? perTenantKeys(resolved, env) : undefined;
  const counters = new ProxyCounters();
  const monitor = createMonitor(strata, resolved.monitoring, { logger, extraMetrics: () => counters.text() });
  const gateway = new Gateway({
    manager: strata,
    config: proxy,
    namespace: resolved.namespace,
    clientTokens,
    upstreams,
    counters,
    defaultTtlSeconds: resolved.defaultTtlSeconds,
    logger,
    tracing,
    ...(tenantKeys ? { tenantKeys } : {}),
  });
  let server: http.Server | undefined;
  let dashboard: { url: string; close(): Promise<void> } | undefined;
  return {
    get monitorUrl() {
      return dashboard?.url;
    },
    strata,
    monitor,
    counters,
    handle: (req, res) => gateway.handle(req, res),
    async listen() {
      const s = http.createServer((req, res) => void gateway.handle(req, res));
      // Streams may run for minutes; Node's default request timeout only bounds receiving the request.
      s.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(proxy.port, proxy.host, () => resolve());
      });
      server = s;
      if (proxy.monitorPort !== undefined)
        dashboard = await startServer(strata, monitor, {
          host: proxy.host,
          port: proxy.monitorPort,
          // Any client token opens the monitor. Without tokens (loopback only) anyone on the
          // machine can read it, and its namespaces are the tenants (credential digests, header
          // values): it shows their figures, not who they are.
          tokens: clientTokens,
          hideNamespaces: clientTokens.length === 0,
        });
      const { port } = s.address() as AddressInfo;
      return `http://${urlHost(proxy.host)}:${port}`;
    },
    async close(graceMs = 5_000) {
      if (server) {
        const s = server;
        const closed = new Promise<void>((resolve) => s.close(() => resolve()));
        s.closeIdleConnections();
        const timer = setTimeout(() => s.closeAllConnections(), graceMs);
        await closed;
        clearTimeout(timer);
      }
      await dashboard?.close();
      monitor.close();
      await upstreams.close();
      await strata.close();
    },
  };
}

/**
 * `encryption: "per-tenant"`: each caller's key is derived from its credentials, salted with the
 * config's master keys when it has `encryption` (then both are needed to read an entry).
 */
function perTenantKeys(resolved: ResolvedConfig, env: NodeJS.ProcessEnv): TenantKeys {
  return new TenantKeys(resolved.encryption ? Keyring.fromConfig(resolved.encryption, env) : undefined);
}

function tokensOf(proxy: ResolvedProxyConfig, env: NodeJS.ProcessEnv): string[] {
  if (proxy.clientTokensEnv === undefined) return proxy.clientTokens;
  const listed = (env[proxy.clientTokensEnv] ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  if (listed.length === 0)
    throw new StrataConfigError([
      {
        path: 'proxy.clientTokensEnv',
        message: `environment variable ${proxy.clientTokensEnv} is not set or empty`,
      },
    ]);
  const short = listed.find((t) => t.length < 16);
  if (short !== undefined)
    throw new StrataConfigError([
      { path: 'proxy.clientTokensEnv', message: 'every token must be at least 16 characters' },
    ]);
  return [...proxy.clientTokens, ...listed];
}
