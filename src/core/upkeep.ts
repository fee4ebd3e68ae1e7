/**
 * Background upkeep of a tier (flushing batched counts, purging expired entries): a timer that
 * never keeps the process alive, and whose failures stay quiet. A broken backend is reported by
 * the next call the manager makes, with its failure policy, not by the upkeep.
 */
export function every(ms: number, task: () => unknown, timers: NodeJS.Timeout[]): void {
  const timer = setInterval(() => {
    try {
      const result = task();
      if (result instanceof Promise) result.catch(() => {});
    } catch {
      // as above: the next call reports it
    }
  }, ms);
  timer.unref();
  timers.push(timer);
}

/**
 * A networked tier's upkeep at close: the timers stop, then what was batched is written once
 * more. Best effort: the server may be gone, and then unflushed counts are lost, never entries.
 */
export async function stopUpkeep(timers: NodeJS.Timeout[], flush: () => Promise<void>): Promise<void> {
  for (const timer of timers) clearInterval(timer);
  await flush().catch(() => {});
}

/**
 * One-time set-up on first use (schema migrations, indexes): concurrent callers share one
 * attempt, and a failed attempt is forgotten, so a server that was down at start-up is set up
 * by the first call after it returns. `done` lets a hot path skip even a settled await.
 */
export class OnFirstUse {
  done = false;
  private pending: Promise<void> | undefined;

  constructor(private readonly init: () => Promise<void>) {}

  ready(): Promise<void> {
    this.pending ??= this.init().then(
      () => {
        this.done = true;
      },
      (error: unknown) => {
        this.pending = undefined;
        throw error;
      },
    );
    return this.pending;
  }
}
