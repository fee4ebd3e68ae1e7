/**
 * The backends the soak needs, through scripts/services.sh: a service that already runs (shared
 * with tests or other benchmarks) is used and left alone; one that does not is started, and only
 * those are stopped again (`stopStarted`, called on success, failure and SIGINT/SIGTERM).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'services.sh');
const ENV_FILE = join(ROOT, '.strata-services', 'env');

function script(command: 'start' | 'stop' | 'status', name: string): string {
  return execFileSync('bash', [SCRIPT, command, name], {
    encoding: 'utf8',
    timeout: 300_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Every process of the service runs (status prints one "running" line per PID file). */
function running(name: string): boolean {
  const lines = script('status', name).trim().split('\n').filter(Boolean);
  return lines.length > 0 && lines.every((l) => l.endsWith(' running'));
}

/** Starts what is not running; returns the settings (.strata-services/env) and what it started. */
export function ensureServices(names: string[]): { env: Record<string, string>; started: string[] } {
  const started: string[] = [];
  for (const name of names) {
    if (running(name)) continue;
    console.error(`[soak] ${name} is not running: starting it (it is stopped again at the end)`);
    started.push(name);
    script('start', name);
  }
  const env: Record<string, string> = {};
  if (existsSync(ENV_FILE)) {
    for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  return { env, started };
}

/** Stops exactly the services `ensureServices` started, last first. */
export function stopStarted(started: string[]): void {
  for (const name of [...started].reverse()) {
    try {
      script('stop', name);
    } catch (error) {
      console.error(`[soak] could not stop ${name}: ${(error as Error).message}`);
    }
  }
}
