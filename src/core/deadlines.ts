/**
 * Cheap timeouts for the hot path, one queue per tier. A setTimeout per tier call costs more
 * than a Redis GET's own client-side work at high rates (timer-list insertion, then clearTimeout
 * and garbage), and so did a Set of pending calls (hashing each entry in and out). Every call of
 * one tier has the same timeout, so deadlines fall due in the order they were added: a plain
 * array in arrival order is already sorted by due time. Cancelling only marks an entry; one
 * unref'd sweeper, every `resolutionMs`, drops settled entries from the front and fires the
 * expired ones. A timeout therefore fires up to `resolutionMs` late, which is noise next to the
 * timeouts it enforces (hundreds of ms). A call that hangs keeps the entries behind it until it
 * expires, so the queue holds at most one timeout's worth of calls.
 */
export interface Deadline {
  readonly at: number;
  /** Called with undefined, so a promise's resolve can be the action itself (no closure per call). */
  readonly fire: (expired: undefined) => void;
  live: boolean;
}

export class Deadlines {
  private queue: Deadline[] = [];
  /** Entries before this index are done. */
  private head = 0;
  private sweeper: NodeJS.Timeout | undefined;

  /** `onExpire` runs before each expired entry's own `fire` (what every expiry of this queue does). */
  constructor(
    private readonly timeoutMs: number,
    private readonly onExpire?: () => void,
    private readonly resolutionMs = 5,
  ) {}

  /** Calls `fire` once `timeoutMs` have passed since `start` (performance.now()), unless cancelled first. */
  add(start: number, fire: (expired: undefined) => void): Deadline {
    const entry: Deadline = { at: start + this.timeoutMs, fire, live: true };
    this.queue.push(entry);
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), this.resolutionMs);
      this.sweeper.unref();
    }
    return entry;
  }

  /** True if the deadline was still pending (it has not fired and will not). */
  cancel(entry: Deadline): boolean {
    if (!entry.live) return false;
    entry.live = false;
    return true;
  }

  private sweep(): void {
    const now = performance.now();
    const queue = this.queue;
    let head = this.head;
    while (head < queue.length) {
      const entry = queue[head]!;
      if (entry.live) {
        if (entry.at > now) break;
        entry.live = false;
        this.onExpire?.();
        entry.fire(undefined);
      }
      head++;
    }
    if (head === queue.length) {
      this.queue = [];
      this.head = 0;
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    } else if (head > 1024 && head * 2 > queue.length) {
      this.queue = queue.slice(head);
      this.head = 0;
    } else this.head = head;
  }
}
