/**
 * In-flight misses, per key: the first caller to miss a key becomes its leader and goes to
 * the LLM; everyone else who asks for that key meanwhile waits for the leader's update instead
 * of making the same paid call. Waiting is bounded by a lease: if the leader never stores an
 * answer (its LLM call failed, or the answer was not cacheable) the waiters get a miss when the
 * lease runs out and call the LLM themselves.
 *
 * Waiters receive the encoded payload, not an object, so each one decodes its own fresh copy.
 * A flight costs one Map entry until somebody actually waits on it.
 */
type Waiter = (payload: string | undefined) => void;

interface Flight {
  waiters: Waiter[];
  timer?: NodeJS.Timeout;
}

export class Coalescer {
  private readonly flights = new Map<string, Flight>();

  constructor(private readonly leaseMs: number) {}

  /** The pending result for this key if someone is already fetching it; undefined otherwise. */
  join(hash: string): Promise<string | undefined> | undefined {
    const flight = this.flights.get(hash);
    if (!flight) return undefined;
    // Somebody now waits on the lease: it must keep the process alive until it ends.
    flight.timer?.ref();
    return new Promise((resolve) => flight.waiters.push(resolve));
  }

  /** Registers the caller as the one fetching this key. */
  lead(hash: string): void {
    this.flights.set(hash, { waiters: [] });
  }

  /** The leader missed: keep the flight open until an update arrives or the lease ends. */
  hold(hash: string): void {
    const flight = this.flights.get(hash);
    if (!flight || flight.timer) return;
    flight.timer = setTimeout(() => this.settle(hash, undefined), this.leaseMs);
    // A lease nobody waits on must not keep the process alive; join() refs it for a waiter.
    if (flight.waiters.length === 0) flight.timer.unref();
  }

  /** Hands the result to every waiter and ends the flight. */
  settle(hash: string, payload: string | undefined): void {
    const flight = this.flights.get(hash);
    if (!flight) return;
    this.flights.delete(hash);
    if (flight.timer) clearTimeout(flight.timer);
    for (const waiter of flight.waiters) waiter(payload);
  }

  get inFlight(): number {
    return this.flights.size;
  }

  close(): void {
    for (const hash of [...this.flights.keys()]) this.settle(hash, undefined);
  }
}
