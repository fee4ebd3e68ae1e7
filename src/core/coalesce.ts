/**
 * In-flight misses, per key: the first caller to miss a key becomes its leader and goes to
 * the LLM; everyone else who asks for that key meanwhile waits for the leader's update instead
 * of making the same paid call.
 *
 * A waiter cannot see the leader's model call, only its result: an update ends the flight with
 * the answer. Everything else is about not waiting for an answer that will never come:
 * - A caller that knows it will not store (withCache after a model error or an abort) releases
 *   the key: the longest waiter is promoted to leader at once and the others keep waiting for it.
 * - A leader that cannot tell (LangChain's BaseCache never hears of a failed model call) is
 *   bounded by a lease: `MissDurations` learns how long this model's misses take to be answered
 *   (miss to update, per llm string) and the lease is a few times that, never a flat 15 s.
 *   When it runs out every waiter gets a miss and calls the LLM itself.
 * - A waiter on LangChain's plain path (`joinBounded`) waits only when it can justify it: never
 *   for a leader of its own `generate()` batch (LangChain looks every prompt of a batch up before
 *   it calls the model, so a duplicate prompt would wait for itself), never before this model's
 *   misses have been measured, and never longer than the slowest of them.
 *
 * Waiters receive the encoded payload, not an object, so each one decodes its own fresh copy.
 * A flight costs one Map entry until somebody actually waits on it.
 */
type Waiter = (payload: string | undefined) => void;

interface Flight {
  /** Created by the first join: most flights (hits) end with nobody waiting. */
  waiters: Waiter[] | undefined;
  /** When the current leader missed (performance.now()): the start of its miss-to-update time. */
  startedAt: number;
  leaseMs: number;
  timer?: NodeJS.Timeout;
  /** The synchronous run the leader missed in (see `turn`): lookups of one batch share it. */
  turn: number;
}

/**
 * A counter that moves on once per synchronous run of JavaScript: LangChain's generate() calls
 * `cache.lookup` for every prompt of a batch in one `map`, before any of them can settle, so
 * lookups made in the same turn belong to the same batch (or to callers that started together
 * and would only make each other wait).
 */
let turn = 0;
let turnEnding = false;
function currentTurn(): number {
  if (!turnEnding) {
    turnEnding = true;
    queueMicrotask(() => {
      turn++;
      turnEnding = false;
    });
  }
  return turn;
}

export class Coalescer {
  private readonly flights = new Map<string, Flight>();

  /** The pending result for this key if someone is already fetching it; undefined otherwise. */
  join(hash: string): Promise<string | undefined> | undefined {
    const flight = this.flights.get(hash);
    if (!flight) return undefined;
    // Somebody now waits on the lease: it must keep the process alive until it ends.
    flight.timer?.ref();
    return new Promise((resolve) => {
      flight.waiters ??= [];
      flight.waiters.push(resolve);
    });
  }

  /**
   * Like join, for a caller that cannot be told when the leader gives up (LangChain's plain
   * path): undefined unless someone else fetches this key, started in an earlier turn, and
   * `maxWaitMs` (the model's measured miss time) is known; the wait ends with a miss after it.
   */
  joinBounded(hash: string, maxWaitMs: number | undefined): Promise<string | undefined> | undefined {
    const flight = this.flights.get(hash);
    if (!flight || maxWaitMs === undefined || flight.turn === currentTurn()) return undefined;
    return new Promise((resolve) => {
      flight.waiters ??= [];
      const waiters = flight.waiters;
      const timer = setTimeout(() => {
        const at = waiters.indexOf(waiter);
        if (at >= 0) waiters.splice(at, 1);
        // The leader is presumed lost (its call failed, unreported): this caller now calls the
        // model, and its miss-to-update time starts now. Measured from the lost leader's start,
        // every failure would lengthen the next wait.
        if (this.flights.get(hash) === flight) flight.startedAt = performance.now();
        resolve(undefined);
      }, maxWaitMs);
      const waiter: Waiter = (payload) => {
        clearTimeout(timer);
        resolve(payload);
      };
      waiters.push(waiter);
    });
  }

  /** Registers the caller as the one fetching this key. */
  lead(hash: string, now: number): void {
    this.flights.set(hash, { waiters: undefined, startedAt: now, leaseMs: 0, turn: currentTurn() });
  }

  /** The leader missed: keep the flight open until an update, a release, or `leaseMs`. */
  hold(hash: string, leaseMs: number): void {
    const flight = this.flights.get(hash);
    if (!flight || flight.timer) return;
    flight.leaseMs = leaseMs;
    this.arm(hash, flight);
  }

  /** Hands the result to every waiter and ends the flight; returns when its leader missed, if it had one. */
  settle(hash: string, payload: string | undefined): number | undefined {
    const flight = this.flights.get(hash);
    if (!flight) return undefined;
    this.flights.delete(hash);
    if (flight.timer) clearTimeout(flight.timer);
    if (flight.waiters) for (const waiter of flight.waiters) waiter(payload);
    return flight.startedAt;
  }

  /**
   * The leader will not store an answer: the longest waiter becomes the leader (it sees a miss
   * and calls the LLM); the others keep waiting, now for it. With no waiter the flight ends.
   */
  release(hash: string, now: number): void {
    const flight = this.flights.get(hash);
    if (!flight) return;
    const next = flight.waiters?.shift();
    if (!next) {
      this.settle(hash, undefined);
      return;
    }
    if (flight.timer) clearTimeout(flight.timer);
    flight.timer = undefined;
    flight.startedAt = now;
    flight.turn = currentTurn();
    this.arm(hash, flight);
    next(undefined);
  }

  private arm(hash: string, flight: Flight): void {
    flight.timer = setTimeout(() => this.settle(hash, undefined), flight.leaseMs);
    // A lease nobody waits on must not keep the process alive; join() refs it for a waiter.
    if (!flight.waiters?.length) flight.timer.unref();
  }

  has(hash: string): boolean {
    return this.flights.has(hash);
  }

  /**
   * A caller that did not wait for this key's flight (its wait is bounded) is about to call the
   * model itself: the flight's miss-to-update time starts again with it, so an earlier leader's
   * unreported failure (and the caller's own retry backoff) is not measured as the model's time.
   */
  restart(hash: string, now: number): void {
    const flight = this.flights.get(hash);
    if (flight) flight.startedAt = now;
  }

  get inFlight(): number {
    return this.flights.size;
  }

  close(): void {
    for (const hash of [...this.flights.keys()]) this.settle(hash, undefined);
  }
}

/**
 * How long misses of one model take to be answered (miss to update), from the last few that
 * were: the lease a waiter grants a leader is `LEASE_FACTOR` times the slowest of them, at least
 * `MIN_LEASE_MS`, at most the configured `coalesceWaitMs`. Until `MIN_SAMPLES` misses of a model
 * have been answered, the last answers of any model in this process stand in for it; before the
 * process has seen any, nothing is known and the configured wait applies.
 */
export class MissDurations {
  static readonly MIN_SAMPLES = 3;
  static readonly SAMPLES = 16;
  static readonly LEASE_FACTOR = 4;
  static readonly MIN_LEASE_MS = 250;
  /** Distinct llm strings remembered; the oldest is forgotten first. */
  static readonly MODELS = 256;
  private readonly byModel = new Map<string, number[]>();
  private readonly anyModel: number[] = [];

  constructor(private readonly maxLeaseMs: number) {}

  record(llmString: string, ms: number): void {
    let samples = this.byModel.get(llmString);
    if (!samples) {
      if (this.byModel.size >= MissDurations.MODELS) this.byModel.delete(this.byModel.keys().next().value!);
      samples = [];
      this.byModel.set(llmString, samples);
    }
    for (const ring of [samples, this.anyModel]) {
      ring.push(ms);
      if (ring.length > MissDurations.SAMPLES) ring.shift();
    }
  }

  /**
   * The slowest recent miss-to-update time of this model, or undefined before MIN_SAMPLES of
   * its misses were answered: how long a caller that cannot be told of a failure may wait.
   */
  measuredMs(llmString: string): number | undefined {
    const own = this.byModel.get(llmString);
    return own && own.length >= MissDurations.MIN_SAMPLES
      ? Math.min(this.maxLeaseMs, Math.ceil(Math.max(...own)))
      : undefined;
  }

  leaseMs(llmString: string): number {
    const own = this.byModel.get(llmString);
    const samples = own && own.length >= MissDurations.MIN_SAMPLES ? own : this.anyModel;
    if (samples.length < MissDurations.MIN_SAMPLES) return this.maxLeaseMs;
    const slowest = Math.max(...samples);
    return Math.min(
      this.maxLeaseMs,
      Math.max(MissDurations.MIN_LEASE_MS, Math.ceil(slowest * MissDurations.LEASE_FACTOR)),
    );
  }
}
