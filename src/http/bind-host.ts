/**
 * The address a server Strata runs (the gateway, its monitor, `strata serve`) is told to listen
 * on, as people write it: `127.0.0.1`, `localhost`, `::1` or `[::1]` (the form URLs use; Node's
 * `listen()` wants it without brackets), `0.0.0.0`. A mistake (a URL, a port, a stray bracket)
 * is named before anything listens, instead of surfacing as a DNS error or a misleading refusal.
 */
import { isIP } from 'node:net';

/** The host as `listen()` takes it: an IPv6 address without the brackets a URL puts around it. */
export function bindHost(host: string): string {
  return /^\[[^\]]*\]$/.test(host) ? host.slice(1, -1) : host;
}

/** An address only this machine reaches; `[::1]` is how a URL (and a person) writes the IPv6 one. */
export function isLoopback(host: string): boolean {
  const bare = bindHost(host);
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** Addresses that listen on every interface. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

/** The host as a URL holds it: an IPv6 address in brackets. */
export function urlHost(host: string): string {
  const bare = bindHost(host);
  return bare.includes(':') ? `[${bare}]` : bare;
}

/** A DNS name (RFC 1123 labels; `_` too, as container and service names use it). */
const NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** Why a server cannot listen on `host` as written; undefined when it can be tried. */
export function hostProblem(host: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host))
    return 'must be a host name or an IP address, not a URL (the port is given on its own)';
  if (/^[^:[\]]+:\d*$/.test(host) || /^\[[^\]]*\]:\d*$/.test(host))
    return 'must not carry a port: give the port on its own';
  if (isIP(bindHost(host)) !== 0) return undefined;
  if (host.includes('[') || host.includes(']'))
    return 'may be bracketed only around a whole IPv6 address, as in [::1]';
  if (host.includes(':')) return 'is not a valid IPv6 address';
  if (NAME.test(host)) return undefined;
  return 'must be a host name or an IP address (127.0.0.1, ::1 or [::1], localhost, 0.0.0.0)';
}
