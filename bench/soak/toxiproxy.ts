/**
 * The few calls of Toxiproxy's HTTP API the soak needs: a proxy in front of a backend, toxics on
 * it, and deleting it. The chaos tests' client (test/support/toxiproxy.ts) ties each proxy's
 * lifetime to a vitest test, which a benchmark process does not have; this one leaves that to
 * the caller (the soak deletes its proxies in a finally and on SIGINT/SIGTERM).
 */
import { randomUUID } from 'node:crypto';

export interface Toxic {
  type: 'latency' | 'bandwidth' | 'slow_close' | 'reset_peer' | 'timeout' | 'limit_data';
  /** As Toxiproxy names them: latency/jitter ms, rate KB/s, delay/timeout ms, bytes. */
  attributes: Record<string, number>;
  /** `downstream` (default): the backend's replies; `upstream`: the client's requests. */
  stream?: 'upstream' | 'downstream';
}

export class SoakProxy {
  constructor(
    private readonly api: string,
    readonly name: string,
    /** host:port where clients connect instead of the backend. */
    readonly listen: string,
  ) {}

  /** Adds the toxics; returns their names. */
  async add(toxics: Toxic[]): Promise<string[]> {
    const names: string[] = [];
    for (const [i, t] of toxics.entries()) {
      const stream = t.stream ?? 'downstream';
      const name = `${t.type}_${stream}_${i}`;
      await call(this.api, 'POST', `/proxies/${this.name}/toxics`, {
        name,
        type: t.type,
        stream,
        toxicity: 1,
        attributes: t.attributes,
      });
      names.push(name);
    }
    return names;
  }

  /** Removes every toxic of this proxy. */
  async clear(): Promise<void> {
    const toxics = (await call(this.api, 'GET', `/proxies/${this.name}/toxics`)) as Array<{ name: string }>;
    for (const t of toxics) await call(this.api, 'DELETE', `/proxies/${this.name}/toxics/${t.name}`);
  }

  async delete(): Promise<void> {
    await call(this.api, 'DELETE', `/proxies/${this.name}`);
  }
}

/** A new proxy to `upstream` (host:port) on a port the OS picks, named uniquely after `label`. */
export async function createProxy(api: string, label: string, upstream: string): Promise<SoakProxy> {
  const name = `strata-soak-${label}-${randomUUID().slice(0, 8)}`;
  const info = (await call(api, 'POST', '/proxies', {
    name,
    listen: '127.0.0.1:0',
    upstream,
    enabled: true,
  })) as { listen: string };
  return new SoakProxy(api, name, info.listen);
}

async function call(api: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${api}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    // Generous: on a loaded machine Toxiproxy can take seconds to rebuild a proxy's links.
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${text.trim()}`);
  return text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
}
