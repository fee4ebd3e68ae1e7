/**
 * Per-tier circuit breaker.
 *
 * closed: calls go through; `failureThreshold` consecutive failures (errors or timeouts) open it.
 * open: calls are skipped (a miss, at no cost) until `cooldownMs` has passed.
 * half-open: one call is let through as a probe; success closes the breaker, failure reopens it
 * with the cool-down doubled (up to `maxCooldownMs`), so a tier that stays down costs almost nothing.
 *
 * Cool-downs are measured on the clock's monotonic reading, never on wall time: a wall clock
 * stepped back (NTP, a manual change) must not keep a tier disabled for the size of the step,
 * and one stepped forward must not end a cool-down early.
 */
import { type Clock, monotonicNow } from './clock.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = {
  failureThreshold: 5,
  cooldownMs: 2_000,
  maxCooldownMs: 30_000,
};

export type BreakerTransition = (from: BreakerState, to: BreakerState) => void;

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAt = 0;
  private cooldown: number;
  private probeInFlight = false;
  lastError: string | undefined;

  constructor(
    private readonly options: BreakerOptions,
    private readonly clock: Clock,
    private readonly onTransition: BreakerTransition = () => {},
  ) {
    this.cooldown = options.cooldownMs;
  }

  get current(): BreakerState {
    if (this.state === 'open' && monotonicNow(this.clock) - this.openedAt >= this.cooldown)
      return 'half-open';
    return this.state;
  }

  /** Whether the tier's last call failed (the breaker may still be closed). */
  get failing(): boolean {
    return this.consecutiveFailures > 0;
  }

  /** Whether a call may go through now. In half-open, only one probe at a time. */
  allow(): boolean {
    if (this.state === 'closed') return true;
    if (this.current !== 'half-open' || this.probeInFlight) return false;
    this.probeInFlight = true;
    this.move('half-open');
    return true;
  }

  success(): void {
    this.consecutiveFailures = 0;
    if (this.state !== 'closed') {
      this.probeInFlight = false;
      this.cooldown = this.options.cooldownMs;
      this.lastError = undefined;
      this.move('closed');
    }
  }

  failure(reason: string): void {
    this.lastError = reason;
    this.consecutiveFailures++;
    if (this.state === 'half-open') {
      this.probeInFlight = false;
      this.cooldown = Math.min(this.cooldown * 2, this.options.maxCooldownMs);
      this.open();
    } else if (this.state === 'closed' && this.consecutiveFailures >= this.options.failureThreshold) {
      this.open();
    }
  }

  private open(): void {
    this.openedAt = monotonicNow(this.clock);
    this.move('open');
  }

  private move(to: BreakerState): void {
    if (this.state === to) return;
    const from = this.state;
    this.state = to;
    this.onTransition(from, to);
  }
}
