/**
 * A small typed client of Toxiproxy's HTTP API (github.com/Shopify/toxiproxy, v2.12.0), started by
 * scripts/services.sh as the `toxiproxy` service: a proxy per test between Strata and a real
 * backend, and the faults ("toxics") the chaos tests put on it. Every proxy made here is deleted
 * when the test that made it finishes, pass or fail, so a fault never leaks into the next test.
 */
import { randomUUID } from 'node:crypto';
import { onTestFinished } from 'vitest';
import { service } from './services.js';

/** Which way a toxic acts: `downstream` is the backend's replies, `upstream` the client's requests. */
export type Stream = 'upstream' | 'downstream';

/** The toxics the chaos suite uses, with their attributes as Toxiproxy names them (ms, KB/s, bytes). */
export type ToxicSpec =
  /** Delays every chunk by `latency` ms, plus or minus up to `jitter` ms. */
  | { type: 'latency'; attributes: { latency: number; jitter?: number } }
  /** Caps throughput at `rate` KB/s. */
  | { type: 'bandwidth'; attributes: { rate: number } }
  /** Delays the close of a connection by `delay` ms. */
  | { type: 'slow_close'; attributes: { delay: number } }
  /** Resets connections (TCP RST) after `timeout` ms; 0 at once. */
  | { type: 'reset_peer'; attributes: { timeout: number } }
  /** Drops all data; closes the connection after `timeout` ms, or never while the toxic stays when 0. */
  | { type: 'timeout'; attributes: { timeout: number } }
  /** Closes the connection once `bytes` bytes have passed. */
  | { type: 'limit_data'; attributes: { bytes: number } };

export type ToxicOptions = ToxicSpec & {
  /** Unique within the proxy; defaults to `<type>_<stream>`. */
  name?: string;
  stream?: Stream;
  /** Share of connections the toxic applies to, 0 to 1 (default 1). */
  toxicity?: number;
};

export interface ProxyInfo {
  name: string;
  /** Where clients connect: the port the OS gave the proxy. */
  listen: string;
  upstream: string;
  enabled: boolean;
}

export class ToxiproxyError extends Error {
  override readonly name = 'ToxiproxyError';
}

/** One proxy of the Toxiproxy server, and the faults on it. */
export class ChaosProxy {
  constructor(
    private readonly api: string,
    readonly info: ProxyInfo,
  ) {}

  get name(): string {
    return this.info.name;
  }

  /** host:port to give the client instead of the backend's. */
  get listen(): string {
    return this.info.listen;
  }

  /** Adds a toxic; returns its name (for `removeToxic`). */
  async addToxic(toxic: ToxicOptions): Promise<string> {
    const stream = toxic.stream ?? 'downstream';
    const name = toxic.name ?? `${toxic.type}_${stream}`;
    await call(this.api, 'POST', `/proxies/${this.name}/toxics`, {
      name,
      type: toxic.type,
      stream,
      toxicity: toxic.toxicity ?? 1,
      attributes: toxic.attributes,
    });
    return name;
  }

  async removeToxic(name: string): Promise<void> {
    await call(this.api, 'DELETE', `/proxies/${this.name}/toxics/${name}`);
  }

  /** Removes every toxic of this proxy. */
  async clearToxics(): Promise<void> {
    const toxics = (await call(this.api, 'GET', `/proxies/${this.name}/toxics`)) as Array<{ name: string }>;
    for (const toxic of toxics) await this.removeToxic(toxic.name);
  }

  /**
   * Disabled, the proxy closes its connections and stops listening (clients get "connection
   * refused"); enabled again, it listens on the same port.
   */
  async setEnabled(enabled: boolean): Promise<void> {
    await call(this.api, 'POST', `/proxies/${this.name}`, { enabled });
  }

  async delete(): Promise<void> {
    await call(this.api, 'DELETE', `/proxies/${this.name}`);
  }
}

/** The Toxiproxy service's API, starting the service if it is not running. */
export function toxiproxy(): Toxiproxy {
  return new Toxiproxy(service('toxiproxy').STRATA_TEST_TOXIPROXY_URL!);
}

export class Toxiproxy {
  constructor(readonly api: string) {}

  /**
   * A new proxy to `upstream` (host:port) on a port the OS picks. Call it inside a test: the proxy
   * is deleted when that test finishes.
   */
  async createProxy(label: string, upstream: string): Promise<ChaosProxy> {
    const name = `strata-${label}-${randomUUID().slice(0, 8)}`;
    const info = (await call(this.api, 'POST', '/proxies', {
      name,
      listen: '127.0.0.1:0',
      upstream,
      enabled: true,
    })) as ProxyInfo;
    const proxy = new ChaosProxy(this.api, info);
    onTestFinished(async () => {
      await proxy.delete();
    });
    return proxy;
  }
}

async function call(api: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${api}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    // Seconds, not milliseconds, on a loaded machine: taking a toxic off waits for every
    // connection's toxic chain to hand on what it holds. (A latency toxic on replies whose client
    // closes connections never does, up to Toxiproxy's own 25 s: src/proxy/chaos.int.test.ts.)
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  if (!response.ok) throw new ToxiproxyError(`${method} ${path}: ${response.status} ${text.trim()}`);
  return text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
}
