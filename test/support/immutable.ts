import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';

/**
 * Makes a directory or file nobody may write, root included (root ignores mode bits, not the
 * immutable attribute); pushes how to undo it onto `cleanups`.
 */
export function makeImmutable(path: string, cleanups: Array<() => void>): void {
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', path]);
    cleanups.push(() => execFileSync('chattr', ['-i', path]));
  } else {
    chmodSync(path, 0o555);
    cleanups.push(() => chmodSync(path, 0o755));
  }
}
