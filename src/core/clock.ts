/** One injectable clock, so TTL, breaker and coalescing tests need no sleeps. */
export interface Clock {
  /** Wall time in epoch milliseconds (expiry timestamps). May jump (NTP, a manual change). */
  now(): number;
  /**
   * Monotonic milliseconds from an arbitrary origin, for durations (breaker cool-downs): never
   * goes back when the wall clock is stepped. Optional so a bare `{ now }` still is a Clock;
   * read it through `monotonicNow(clock)`, which falls back to `now()`.
   */
  monotonic?(): number;
}

/** The clock's monotonic reading, or its wall time when it has none. */
export function monotonicNow(clock: Clock): number {
  return clock.monotonic ? clock.monotonic() : clock.now();
}

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };

/**
 * A clock tests move by hand. `advance` moves wall and monotonic time together (time passing);
 * `setWall` / `stepWall` move the wall clock alone (an NTP step or a manual change), as a real
 * system clock can, while monotonic time stands still.
 */
export class ManualClock implements Clock {
  private mono = 0;
  constructor(private current = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.current;
  }
  monotonic(): number {
    return this.mono;
  }
  /** Time passes: both readings move by `ms` (a negative `ms` moves the wall clock only). */
  advance(ms: number): void {
    this.current += ms;
    if (ms > 0) this.mono += ms;
  }
  /** Sets the wall clock to `ms` (epoch milliseconds); monotonic time does not move. */
  setWall(ms: number): void {
    this.current = ms;
  }
  /** Steps the wall clock by `deltaMs` (negative = back); monotonic time does not move. */
  stepWall(deltaMs: number): void {
    this.current += deltaMs;
  }
}
