/**
 * The backends a benchmark needs, through scripts/services.sh. A service that already runs
 * (shared with tests or another benchmark) is used and left alone; one that does not is started
 * here and stopped again by `stop()` when the benchmark is done, or, should it fail or be
 * interrupted (SIGINT, SIGTERM) before that, when its process exits. Even a process that cannot
 * run its exit handlers is covered: tsx kills a benchmark with SIGKILL when its event loop is too
 * busy in a measuring loop to answer a relayed SIGINT within 60 ms, so each service started here
 * also gets a reaper, a detached shell that stops it once this process is gone. An idle server a
 * benchmark left behind would otherwise skew the next one (FerretDB alone burns ~16% of a core).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const SCRIPT = join(ROOT, 'scripts', 'services.sh');
const STATE = join(ROOT, '.strata-services');

export interface BenchServices {
  /** The settings of .strata-services/env (STRATA_TEST_*). */
  env: Record<string, string>;
  /** The PID of one of a service's processes (`.strata-services/<name>/<pidName>.pid`), to pin it. */
  pid(name: string, pidName: string): number;
  /** Stops exactly what was started here, last first; idempotent. */
  stop(): void;
}

/** Everything started by any benchmark of this process and not stopped yet: the exit handler's list. */
const startedHere: string[] = [];
/** The reaper of each service started here. */
const reapers = new Map<string, ChildProcess>();
let exitHookInstalled = false;

/**
 * Ensures `names` run; `fresh` are (re)started even when running (GPTCache cannot be emptied),
 * and then count as started here only if they were not running before.
 */
export function useServices(
  names: readonly string[],
  options: { fresh?: readonly string[] } = {},
): BenchServices {
  installExitHook();
  const mine: string[] = [];
  for (const name of names) {
    const wasRunning = running(name);
    if (wasRunning && !options.fresh?.includes(name)) continue;
    if (wasRunning) script('stop', name);
    else {
      console.error(`[bench] ${name} is not running: starting it (stopped again when this benchmark ends)`);
      mine.push(name);
      startedHere.push(name);
    }
    script('start', name);
    if (!wasRunning) reapers.set(name, reaper(name));
  }
  return {
    env: readEnv(),
    pid: (name, pidName) => Number(readFileSync(join(STATE, name, `${pidName}.pid`), 'utf8')),
    stop: () => stopEach(mine),
  };
}

function stopEach(names: string[]): void {
  for (const name of names.splice(0).reverse()) {
    const at = startedHere.indexOf(name);
    if (at < 0) continue; // stopped already (the exit hook, or another stop())
    startedHere.splice(at, 1);
    const watching = reapers.get(name);
    reapers.delete(name);
    if (watching?.pid !== undefined) {
      try {
        process.kill(watching.pid);
      } catch {
        // gone already
      }
    }
    try {
      script('stop', name);
    } catch (error) {
      console.error(`[bench] could not stop ${name}: ${(error as Error).message}`);
    }
  }
}

/** On exit, however it comes, what no stop() stopped; a signal without a handler of its own exits first. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => stopEach(startedHere));
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.on(signal, () => {
      // A benchmark that handles the signal itself (the soak stops early and cleans up) decides.
      if (process.listenerCount(signal) === 1) process.exit(code);
    });
  }
}

/** A detached shell that stops `name` once this process no longer exists (polled every second). */
function reaper(name: string): ChildProcess {
  const child = spawn(
    'bash',
    [
      '-c',
      'while kill -0 "$0" 2>/dev/null; do sleep 1; done; exec bash "$1" stop "$2"',
      String(process.pid),
      SCRIPT,
      name,
    ],
    { detached: true, stdio: 'ignore' },
  );
  child.unref();
  return child;
}

function script(command: 'start' | 'stop' | 'status', name: string): string {
  return execFileSync('bash', [SCRIPT, command, name], {
    encoding: 'utf8',
    timeout: 900_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/**
 * Every process of the service runs: status prints `<name> <proc> pid <n> running` per PID file,
 * `... stale` for one that died, and `<name> not running` when there is none.
 */
function running(name: string): boolean {
  const lines = script('status', name).trim().split('\n').filter(Boolean);
  return lines.length > 0 && lines.every((l) => / pid \d+ running$/.test(l));
}

function readEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const file = join(STATE, 'env');
  if (!existsSync(file)) return env;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
