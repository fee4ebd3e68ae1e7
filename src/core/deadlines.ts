/**
 * Cheap timeouts for the hot path, one queue per tier. A setTimeout per tier call costs more
 * than a Redis GET's own client-side work at high rates (timer-list insertion, then clearTimeout
 * and garbage), and so did a Set of pending calls (hashing each entry in and out) and an entry
 * object per call. Every call of one tier has the same timeout, so deadlines fall due in the
 * order they were added: parallel arrays in arrival order are already sorted by due time, and
 * adding a deadline allocates nothing once they have grown.
 *
 * What waits is an `Expirable` (a lookup in flight, a bounded call): the queue holds it with the
 * token it was armed with. Cancelling disarms it (`armed = 0`), so an entry whose token no longer
 * matches is dead wherever it sits: a lookup that timed out on one tier and is armed again for
 * the next is never fired by the first tier's queue. Tokens come from one counter for every
 * queue, so two queues never hand out the same one.
 *
 * One unref'd sweeper, every `resolutionMs`, drops dead entries from the front and fires the
 * expired ones. A timeout therefore fires up to `resolutionMs` late, which is noise next to the
 * timeouts it enforces (hundreds of ms). A call that hangs keeps the entries behind it until it
 * expires, so the queue holds at most one timeout's worth of calls.
 */
export interface Expirable {
  /** The token of the deadline it waits on; 0 when it waits on none. Written by Deadlines only. */
  armed: number;
  /** Its deadline passed before it was cancelled. */
  expired(): void;
}

let lastToken = 0;

export class Deadlines {
  private waiters: Expirable[] = [];
  private tokens: number[] = [];
  private dueAt: number[] = [];
  /** Entries before this index are done. */
  private head = 0;
  private sweeper: NodeJS.Timeout | undefined;

  /** `onExpire` runs before each expired entry's own `expired()` (what every expiry of this queue does). */
  constructor(
    private readonly timeoutMs: number,
    private readonly onExpire?: () => void,
    private readonly resolutionMs = 5,
  ) {}

  /**
   * Arms `waiter`: its `expired()` runs once `timeoutMs` have passed since `start`
   * (performance.now()), unless `cancel(waiter)` comes first. Returns the deadline's token.
   */
  add(start: number, waiter: Expirable): number {
    // Past 2^53 - 1 a token would repeat; at a billion calls a second that is 104 days away.
    lastToken = lastToken === Number.MAX_SAFE_INTEGER ? 1 : lastToken + 1;
    const token = lastToken;
    waiter.armed = token;
    this.waiters.push(waiter);
    this.tokens.push(token);
    this.dueAt.push(start + this.timeoutMs);
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), this.resolutionMs);
      this.sweeper.unref();
    }
    return token;
  }

  private sweep(): void {
    const now = performance.now();
    const { waiters, tokens, dueAt } = this;
    let head = this.head;
    while (head < waiters.length) {
      const waiter = waiters[head]!;
      if (waiter.armed === tokens[head]) {
        if (dueAt[head]! > now) break;
        waiter.armed = 0;
        this.onExpire?.();
        waiter.expired();
      }
      // Let the waiter go: a queue held behind a hanging call must not keep finished lookups alive.
      waiters[head] = DONE;
      head++;
    }
    if (head === waiters.length) {
      this.waiters = [];
      this.tokens = [];
      this.dueAt = [];
      this.head = 0;
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    } else if (head > 1024 && head * 2 > waiters.length) {
      this.waiters = waiters.slice(head);
      this.tokens = tokens.slice(head);
      this.dueAt = dueAt.slice(head);
      this.head = 0;
    } else this.head = head;
  }
}

/**
 * Disarms `waiter` if it still waits on deadline `token`: true if it did (the deadline has not
 * fired and now will not), false if it fired already or was cancelled.
 */
export function cancelDeadline(waiter: Expirable, token: number): boolean {
  if (waiter.armed !== token || token === 0) return false;
  waiter.armed = 0;
  return true;
}

const DONE: Expirable = { armed: 0, expired() {} };
