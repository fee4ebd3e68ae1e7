/**
 * SQLite's lock errors, shared by the tiers that keep a SQLite file (the SQLite tier and the semantic
 * store).
 */

/** Another connection holds the lock (for longer than we may wait). */
export function isBusy(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** Something to block on for a few ms (opening is synchronous). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `step` again, after a short pause, while it fails with a lock error, until `waitMs` has
 * passed. For opening a file that other processes open at the same moment: SQLite refuses at
 * once, without waiting the busy timeout, a connection that wants to write while it holds a read
 * lock (waiting could deadlock), which is what switching to WAL and creating tables do. `step`
 * must be safe to repeat.
 */
export function retryWhileBusy<T>(waitMs: number, step: () => T): T {
  const deadline = performance.now() + waitMs;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      return step();
    } catch (error) {
      if (!isBusy(error) || performance.now() + pause > deadline) throw error;
      Atomics.wait(PAUSE, 0, 0, pause);
    }
  }
}
