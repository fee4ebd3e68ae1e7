/** Starting and stopping the HTTP servers Strata runs (the monitor's, the gateway's). */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { bindHost, urlHost } from './bind-host.js';

/**
 * Listens on `host` (as people write it: `[::1]` too) and `port` (0: any free port), and returns
 * the port and the server's base URL (`http://127.0.0.1:8787`).
 */
export async function listen(
  server: http.Server,
  port: number,
  host: string,
): Promise<{ port: number; url: string }> {
  const bind = bindHost(host);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bind, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return { port: bound, url: `http://${urlHost(bind)}:${bound}` };
}

/**
 * Stops listening and resolves once every connection is closed: idle ones at once, requests under
 * way after up to `graceMs` (0: at once).
 */
export async function stop(server: http.Server, graceMs = 0): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}
