/**
 * The Host check of the servers Strata runs (the monitor's and the gateway's), against DNS
 * rebinding.
 */

/**
 * The Host header values that name `name` on `port`: `name:port`, or `name` as given when it has
 * a port; on port 80 also the bare name (browsers leave the default port out). Lower case; a
 * bare IPv6 address is bracketed.
 */
export function hostForms(name: string, port: number): string[] {
  let lower = name.toLowerCase();
  if (!lower.startsWith('[') && lower.split(':').length > 2) lower = `[${lower}]`;
  if (/^(\[[^\]]*\]|[^:[\]]+):\d+$/.test(lower)) return [lower];
  return port === 80 ? [`${lower}:${port}`, lower] : [`${lower}:${port}`];
}

/**
 * The DNS-rebinding check of the monitor's and the gateway's ports. A web page on an attacker's
 * domain can point that domain at 127.0.0.1 (or a LAN address) and then read this server's
 * answers from the victim's browser as "same origin"; the browser still sends the attacker's name
 * in `Host`. So a Host is accepted only when it is one of the server's own names: the bound
 * address, `localhost`, `127.0.0.1` or `[::1]`, each with the port, or a name in `allowedHosts`.
 *
 * `anyHost`: the caller knows its names cannot be listed (a wildcard or LAN address is reached by
 * names and addresses it never sees) and a token is mandatory on every route that holds data, so
 * a rebinding page, which never learns the token and whose browser never attaches one by itself,
 * reads nothing anyway. Each server says why it may pass it.
 */
export function hostCheck(o: {
  bound: string;
  port: number;
  anyHost: boolean;
  allowedHosts?: readonly string[];
}): (host: string | undefined) => boolean {
  if (o.anyHost) return () => true;
  const names = new Set<string>();
  for (const name of [o.bound, 'localhost', '127.0.0.1', '[::1]', ...(o.allowedHosts ?? [])])
    for (const form of hostForms(name, o.port)) names.add(form);
  return (host) => host !== undefined && names.has(host.toLowerCase());
}
