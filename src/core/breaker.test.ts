import { describe, expect, it } from 'vitest';
import { type BreakerState, CircuitBreaker } from './breaker.js';
import { type Clock, ManualClock, monotonicNow, systemClock } from './clock.js';

const OPTIONS = { failureThreshold: 2, cooldownMs: 1_000, maxCooldownMs: 4_000 };
const HOUR = 3_600_000;

function opened(clock: Clock) {
  const transitions: Array<[BreakerState, BreakerState]> = [];
  const breaker = new CircuitBreaker(OPTIONS, clock, (from, to) => transitions.push([from, to]));
  breaker.failure('boom');
  breaker.failure('boom');
  expect(breaker.current).toBe('open');
  expect(breaker.allow()).toBe(false);
  return { breaker, transitions };
}

describe('CircuitBreaker', () => {
  it('opens after the threshold, probes once after the cool-down, and closes on success', () => {
    const clock = new ManualClock();
    const { breaker, transitions } = opened(clock);
    clock.advance(999);
    expect(breaker.allow()).toBe(false);
    clock.advance(1);
    expect(breaker.current).toBe('half-open');
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false); // one probe at a time
    breaker.success();
    expect(breaker.current).toBe('closed');
    expect(transitions).toEqual([
      ['closed', 'open'],
      ['open', 'half-open'],
      ['half-open', 'closed'],
    ]);
  });

  it('doubles the cool-down after a failed probe, up to the maximum', () => {
    const clock = new ManualClock();
    const { breaker } = opened(clock);
    for (const cooldown of [1_000, 2_000, 4_000, 4_000]) {
      clock.advance(cooldown - 1);
      expect(breaker.allow()).toBe(false);
      clock.advance(1);
      expect(breaker.allow()).toBe(true);
      breaker.failure('still down');
    }
  });

  it('allows the half-open probe once monotonic time passes the cool-down, though the wall clock was stepped back an hour', () => {
    const clock = new ManualClock();
    const { breaker } = opened(clock);
    clock.stepWall(-HOUR);
    clock.advance(OPTIONS.cooldownMs);
    expect(breaker.current).toBe('half-open');
    expect(breaker.allow()).toBe(true);
    breaker.success();
    expect(breaker.current).toBe('closed');
  });

  it('does not end a cool-down early when the wall clock jumps forward', () => {
    const clock = new ManualClock();
    const { breaker } = opened(clock);
    clock.setWall(clock.now() + HOUR);
    expect(breaker.current).toBe('open');
    expect(breaker.allow()).toBe(false);
    clock.advance(OPTIONS.cooldownMs);
    expect(breaker.allow()).toBe(true);
  });

  it('falls back to wall time for a clock without a monotonic reading', () => {
    let now = 1_000_000;
    const clock: Clock = { now: () => now };
    const { breaker } = opened(clock);
    now += OPTIONS.cooldownMs;
    expect(breaker.allow()).toBe(true);
  });
});

describe('clocks', () => {
  it('ManualClock moves both readings on advance and only the wall reading on setWall/stepWall', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const mono = clock.monotonic();
    clock.advance(500);
    expect(clock.now()).toBe(Date.UTC(2026, 0, 1) + 500);
    expect(clock.monotonic()).toBe(mono + 500);
    clock.stepWall(-HOUR);
    expect(clock.now()).toBe(Date.UTC(2026, 0, 1) + 500 - HOUR);
    clock.setWall(Date.UTC(2030, 0, 1));
    expect(clock.now()).toBe(Date.UTC(2030, 0, 1));
    expect(clock.monotonic()).toBe(mono + 500);
  });

  it('systemClock has a monotonic reading apart from wall time', () => {
    expect(systemClock.monotonic).toBeTypeOf('function');
    const a = monotonicNow(systemClock);
    const b = monotonicNow(systemClock);
    expect(b).toBeGreaterThanOrEqual(a);
    // performance.now() counts from process start, far from the epoch.
    expect(Math.abs(systemClock.now() - a)).toBeGreaterThan(HOUR);
  });
});
