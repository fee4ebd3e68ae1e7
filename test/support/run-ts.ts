/** Runs a TypeScript file of this repository in a real child process (through tsx), from any cwd. */
import { execFile, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const execFileAsync = promisify(execFile);

export function runTs(
  script: string,
  args: string[],
  options: { cwd?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(process.execPath, ['--import', tsxLoader, script, ...args], {
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
}

/** Starts a TypeScript file of this repository as a long-lived child process (through tsx). */
export function spawnTs(
  script: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
) {
  return spawn(process.execPath, ['--import', tsxLoader, script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...options,
  });
}
