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
