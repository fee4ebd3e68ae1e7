#!/usr/bin/env node
/** The `strata` command line: one file per command under commands/. */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { StrataConfigError } from '../errors.js';
import { clear } from './commands/clear.js';
import { demo } from './commands/demo.js';
import { doctor } from './commands/doctor.js';
import { inspect } from './commands/inspect.js';
import { proxy } from './commands/proxy.js';
import { purge } from './commands/purge.js';
import { rekeyCommand } from './commands/rekey.js';
import { search } from './commands/search.js';
import { serve } from './commands/serve.js';
import { stats } from './commands/stats.js';
import { exportEntries, importEntries } from './commands/transfer.js';
import { type Command, contextFor, guardProcessOutput, type Io, processIo, shown } from './context.js';

/** `usage` is the line `strata --help` lists; `help`, what `strata <command> --help` adds below it. */
const COMMANDS: Record<string, { run: Command; usage: string; help?: readonly string[] }> = {
  demo: { run: demo, usage: 'demo [--requests N] [--concurrency N] [--latency MIN-MAX] [--fresh]' },
  stats: { run: stats, usage: 'stats [--json] [--days N]' },
  inspect: { run: inspect, usage: 'inspect <prompt> [--llm-key KEY]' },
  clear: {
    run: clear,
    usage: 'clear (--namespace NS | --tag TAG | --all | --tenant-key-env VAR)',
    help: [
      'Removes entries from every tier; say which:',
      '  --namespace NS        the entries of one namespace',
      '  --tag TAG             the entries carrying a tag (within --namespace, or in every namespace)',
      '  --all                 every entry',
      '  --tenant-key-env VAR  one gateway tenant: the caller whose API key is in the environment',
      "                        variable VAR (needs the gateway's STRATA_DIGEST_KEY, or digestKeyEnv)",
      'A tier that could not do it is named with the reason (exit 1): its entries are still there.',
    ],
  },
  purge: { run: purge, usage: 'purge' },
  rekey: {
    run: rekeyCommand,
    usage: 'rekey [--tier NAME]',
    help: [
      "Seals every persistent tier's entries under encryption.active, opening them with any key of",
      'encryption.keys; run it while the application serves (each rewrite is a compare-and-set, so',
      'nothing deleted or replaced meanwhile comes back). Interrupted, run it again: what is done is',
      'skipped. Exit 1, with the reason, when a tier could not be rekeyed (a failure, or a tier',
      "without compare-and-set: MongoDB, GPTCache, semantic, your own). The gateway's per-tenant",
      "entries cannot be rekeyed (their keys need the callers' credentials): said, not failed.",
      '  --tier NAME  only this tier',
    ],
  },
  search: { run: search, usage: 'search <text> [--limit N]' },
  export: { run: exportEntries, usage: 'export [--file F] [--tier NAME] [--all]' },
  import: {
    run: importEntries,
    usage: 'import [--file F] [--namespace NS [--all-namespaces]] [--trust-hashes] [--max-line-bytes N]',
  },
  doctor: { run: doctor, usage: 'doctor' },
  serve: { run: serve, usage: 'serve [--host 127.0.0.1] [--port 9464] [--token T]' },
  proxy: {
    run: proxy,
    usage: 'proxy [--host 127.0.0.1] [--port 8787] [--monitor-port P]',
    help: [
      'The OpenAI- and Anthropic-compatible caching gateway, until SIGINT or SIGTERM.',
      'The config needs a `proxy` section with `upstreams`; these flags override its fields:',
      '  --host HOST          address to listen on (default 127.0.0.1; IPv6 as ::1 or [::1]);',
      '                       beyond loopback the config needs clientTokens or clientTokensEnv',
      '  --port PORT          gateway port, 0-65535 (default 8787; 0 picks a free port)',
      '  --monitor-port PORT  also serve metrics, the JSON API and the dashboard on this port',
      'Other `proxy` fields (config file only): upstreams, tenant, credentialHeaders, clientTokens,',
      '  clientTokensEnv, timeoutMs, idleTimeoutMs, maxRequestBytes, maxKeyedBytes, maxStoredBytes,',
      '  maxStreamBytes, streamUsage, hitUsage, cors, encryption, monitorPort (docs/gateway.md).',
      'Tenants are keyed digests: set STRATA_DIGEST_KEY (32+ bytes) so they survive a restart.',
      'Clients: OPENAI_BASE_URL=http://HOST:PORT/v1, ANTHROPIC_BASE_URL=http://HOST:PORT',
    ],
  },
};

const OPTIONS = {
  config: { type: 'string' },
  namespace: { type: 'string' },
  json: { type: 'boolean' },
  'llm-key': { type: 'string' },
  tag: { type: 'string' },
  all: { type: 'boolean' },
  file: { type: 'string' },
  tier: { type: 'string' },
  'all-namespaces': { type: 'boolean' },
  'trust-hashes': { type: 'boolean' },
  'max-line-bytes': { type: 'string' },
  requests: { type: 'string' },
  concurrency: { type: 'string' },
  latency: { type: 'string' },
  fresh: { type: 'boolean' },
  limit: { type: 'string' },
  days: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  token: { type: 'string' },
  'monitor-port': { type: 'string' },
  'tenant-key-env': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `strata <command> --help`: that command's usage and options, on standard output (it was asked for). */
function commandHelp(io: Io, command: { usage: string; help?: readonly string[] }): void {
  io.out(`usage: strata ${command.usage} [--config PATH]`);
  for (const line of command.help ?? []) io.out(line);
  io.out(CONFIG_LINE);
}

const CONFIG_LINE =
  'config: --config PATH, else $STRATA_CONFIG, else ./strata.config.json, else memory + SQLite in ./.strata/';

function usage(io: Io): void {
  io.err(
    'usage: strata <command> [--config PATH] [--namespace NS] [options]  (also: npx strata-cache <command>)',
  );
  for (const c of Object.values(COMMANDS)) io.err(`  strata ${c.usage}`);
  io.err(CONFIG_LINE);
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    io.err(`strata: ${shown((error as Error).message)}`);
    usage(io);
    return 2;
  }
  const [name, ...positionals] = parsed.positionals;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command && parsed.values.help) {
    commandHelp(io, command);
    return 0;
  }
  if (!command || parsed.values.help) {
    if (name !== undefined && !command) io.err(`strata: unknown command "${shown(name)}"`);
    usage(io);
    return parsed.values.help ? 0 : 2;
  }
  try {
    return await command.run(contextFor(positionals, parsed.values, io));
  } catch (error) {
    io.err(
      shown(
        error instanceof StrataConfigError ? error.message : `strata ${name}: ${(error as Error).message}`,
      ),
    );
    return error instanceof StrataConfigError ? 2 : 1;
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  guardProcessOutput();
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
