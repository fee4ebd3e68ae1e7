/**
 * Cheap timeouts for the hot path. A setTimeout per tier call costs more than a Redis GET's
 * own client-side work at high rates (timer-list insertion, then clearTimeout and garbage), so
 * pending calls register a deadline here instead, and one unref'd sweeper fires the expired
 * ones every `resolutionMs`. A timeout therefore fires up to `resolutionMs` late, which is
 * noise next to the timeouts it enforces (hundreds of ms).
 */
interface Pending {
  readonly at: number;
  readonly fire: () => void;
}

export class Deadlines {
  private readonly pending = new Set<Pending>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly resolutionMs = 5) {}

  /** Calls `fire` once `ms` have passed, unless the returned handle is cancelled first. */
  add(ms: number, fire: () => void): Pending {
    const entry = { at: performance.now() + ms, fire };
    this.pending.add(entry);
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), this.resolutionMs);
      this.sweeper.unref();
    }
    return entry;
  }

  /** True if the deadline was still pending (it has not fired and will not). */
  cancel(entry: Pending): boolean {
    return this.pending.delete(entry);
  }

  private sweep(): void {
    if (this.pending.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      return;
    }
    const now = performance.now();
    for (const entry of this.pending) {
      if (entry.at > now) continue;
      this.pending.delete(entry);
      entry.fire();
    }
  }
}
