import { hostProblem, isLoopback } from '../../http/bind-host.js';
import { createMonitor } from '../../monitor/index.js';
import { startServer } from '../../monitor/server.js';
import { type Command, shown, stringFlag } from '../context.js';

/**
 * `strata serve [--host H] [--port P] [--token T]`: metrics, health, the JSON API and the live
 * dashboard over HTTP, until SIGINT or SIGTERM. The token may also come from $STRATA_TOKEN; it
 * is required to listen anywhere but loopback.
 */
export const serve: Command = async ({ flags, io, open }) => {
  const host = stringFlag(flags, 'host') ?? '127.0.0.1';
  const port = Number(stringFlag(flags, 'port') ?? '9464');
  const token = stringFlag(flags, 'token') ?? process.env.STRATA_TOKEN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    io.err('strata serve: --port must be 0-65535');
    return 2;
  }
  const problem = hostProblem(host);
  if (problem) {
    io.err(`strata serve: --host ${shown(host)} ${problem}`);
    return 2;
  }
  if (!token && !isLoopback(host)) {
    io.err(
      `strata serve: refusing to listen on ${shown(host)} without a token: give --token or STRATA_TOKEN`,
    );
    return 2;
  }
  // It runs beside the applications that fill the cache, and keeps retrying a tier that is down.
  const { strata, config } = await open({ creates: true, lasting: true });
  const monitor = createMonitor(strata, config.monitoring, {
    logger: { warn: (m) => io.err(m) },
    fleet: true,
  });
  try {
    const server = await startServer(strata, monitor, { host, port, ...(token ? { token } : {}) });
    io.out(
      `strata serve: dashboard at ${server.url}/${token ? '#token=<token>' : ''}, metrics at ${server.url}/metrics`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return 0;
  } finally {
    monitor.close();
    await strata.close();
  }
};
