/** Holds a SQLite file's write lock from another process (test/support/sqlite-locker.ts) for a while. */
import { join } from 'node:path';
import { spawnTs } from './run-ts.js';

const locker = join(import.meta.dirname, 'sqlite-locker.ts');

/** Resolves once the other process holds the lock; `released` settles when it has let go and exited. */
export function holdWriteLock(path: string, ms: number): Promise<{ released: Promise<void> }> {
  const child = spawnTs(locker, [path, String(ms)]);
  let stdout = '';
  let stderr = '';
  const released = new Promise<void>((resolve, reject) => {
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`sqlite-locker exited with ${code}: ${stderr}`)),
    );
  });
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('locked\n')) resolve({ released });
    });
    released.then(() => reject(new Error(`sqlite-locker exited before locking: ${stdout}`)), reject);
  });
}
