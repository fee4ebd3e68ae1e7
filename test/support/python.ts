/** The Python OpenAI SDK's interpreter, for tests that drive the gateway from Python. */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './services.js';

/** Installs the SDK into a project-local venv once (scripts/python-clients.sh); returns its python. */
export function pythonClients(): string {
  return execFileSync('bash', [join(ROOT, 'scripts', 'python-clients.sh')], {
    encoding: 'utf8',
    timeout: 300_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** Runs one of test/support's Python scripts; resolves with its stdout. */
export async function runPythonScript(python: string, script: string, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(python, [join(ROOT, 'test', 'support', script), ...args], {
    timeout: 60_000,
  });
  return stdout;
}
