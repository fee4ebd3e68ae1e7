import { loadConfigWithSource } from '../../config/load.js';
import { type Command, shown, stringFlag } from '../context.js';

/**
 * `strata proxy [--config F] [--host H] [--port P] [--monitor-port P]`: the OpenAI- and
 * Anthropic-compatible caching gateway, until SIGINT or SIGTERM. The config needs a `proxy`
 * section (upstreams at least); flags override its host and ports.
 */
export const proxy: Command = async ({ flags, io }) => {
  const { config } = loadConfigWithSource(stringFlag(flags, 'config'));
  const port = stringFlag(flags, 'port');
  const monitorPort = stringFlag(flags, 'monitor-port');
  const host = stringFlag(flags, 'host');
  for (const [flag, value] of [
    ['--port', port],
    ['--monitor-port', monitorPort],
  ] as const) {
    if (value !== undefined && !/^\d{1,5}$/.test(value)) {
      io.err(`strata proxy: ${flag} must be 0-65535`);
      return 2;
    }
  }
  if (!config.proxy) {
    io.err('strata proxy: the config has no `proxy` section (see docs/gateway.md)');
    return 2;
  }
  const proxyConfig = {
    ...config.proxy,
    // An empty --host is passed on too, so that the config's check names it.
    ...(host !== undefined ? { host } : {}),
    ...(port ? { port: Number(port) } : {}),
    ...(monitorPort ? { monitorPort: Number(monitorPort) } : {}),
  };
  // The gateway (and undici) load only for this command.
  const { createProxy } = await import('../../proxy/index.js');
  const gateway = await createProxy(
    { ...config, proxy: proxyConfig },
    { logger: { warn: (m) => io.err(m) } },
  );
  try {
    let url: string;
    try {
      url = await gateway.listen();
    } catch (error) {
      const why = unlistenable(error);
      if (!why) throw error;
      io.err(`strata proxy: cannot listen on ${shown(proxyConfig.host ?? '127.0.0.1')}: ${why}`);
      return 2;
    }
    io.out(`strata proxy: listening at ${url} (OPENAI_BASE_URL=${url}/v1, ANTHROPIC_BASE_URL=${url})`);
    if (gateway.monitorUrl)
      io.out(`strata proxy: dashboard at ${gateway.monitorUrl}/, metrics at ${gateway.monitorUrl}/metrics`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    await gateway.close();
  }
};

/** A listen() failure that is the host's fault (a name that does not resolve, an address not of this machine). */
function unlistenable(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME')
    return 'the name does not resolve to an address (give an address of this machine, or a name for one)';
  if (code === 'EADDRNOTAVAIL') return 'not an address of this machine';
  return undefined;
}
