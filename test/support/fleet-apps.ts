/**
 * Application processes with known traffic for the fleet-counter tests (the script is
 * fleet-app.ts): started, waited for until their traffic is done, stopped by closing stdin.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { spawnTs } from './run-ts.js';

const APP = join(import.meta.dirname, 'fleet-app.ts');

export interface FleetApp {
  /** Closes stdin: the app closes its cache (a last report) and exits; resolves to its exit code. */
  stop(): Promise<number | null>;
  /** What it wrote to stderr (warnings), for failure messages. */
  readonly stderr: string;
}

/**
 * Stores and looks up `hits` answers and looks up `misses` unknown prompts and `similar`
 * paraphrases (for a similarity tier), then waits.
 */
export async function startFleetApp(
  config: unknown,
  prefix: string,
  hits: number,
  misses: number,
  similar = 0,
): Promise<FleetApp> {
  const child = spawnTs(APP, [
    JSON.stringify(config),
    prefix,
    String(hits),
    String(misses),
    String(similar),
  ]) as ChildProcessWithoutNullStreams;
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += String(d);
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += String(d);
      if (out.includes('done')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`app exited ${code}: ${err}`)));
  });
  return {
    get stderr() {
      return err;
    },
    async stop() {
      child.stdin.end();
      if (child.exitCode === null) await once(child, 'exit');
      return child.exitCode;
    },
  };
}
