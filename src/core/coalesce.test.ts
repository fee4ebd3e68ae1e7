import { describe, expect, it } from 'vitest';
import { MissDurations } from './coalesce.js';

describe('MissDurations: how long a waiter lets a leader take', () => {
  it('knows nothing at first: the configured wait applies', () => {
    expect(new MissDurations(15_000).leaseMs('model:"a"')).toBe(15_000);
  });

  it('is a few times the slowest recent answer of the model, with a floor and a cap', () => {
    const d = new MissDurations(15_000);
    for (const ms of [100, 120, 90]) d.record('model:"a"', ms);
    expect(d.leaseMs('model:"a"')).toBe(120 * MissDurations.LEASE_FACTOR);
    for (let i = 0; i < 3; i++) d.record('model:"fast"', 1);
    expect(d.leaseMs('model:"fast"')).toBe(MissDurations.MIN_LEASE_MS);
    for (let i = 0; i < 3; i++) d.record('model:"slow"', 60_000);
    expect(d.leaseMs('model:"slow"')).toBe(15_000);
  });

  it('lets the answers of any model stand in for a model not yet measured', () => {
    const d = new MissDurations(15_000);
    for (const ms of [100, 100, 100]) d.record('model:"a"', ms);
    expect(d.leaseMs('model:"never seen"')).toBe(400);
  });

  it('forgets old answers: a model that got faster gets a shorter lease', () => {
    const d = new MissDurations(15_000);
    d.record('m', 2_000);
    for (let i = 0; i < MissDurations.SAMPLES; i++) d.record('m', 100);
    expect(d.leaseMs('m')).toBe(400);
  });
});
