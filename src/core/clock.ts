/** One injectable clock, so TTL, breaker and coalescing tests need no sleeps. */
export interface Clock {
  /** Wall time in epoch milliseconds (expiry timestamps). */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private current = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
