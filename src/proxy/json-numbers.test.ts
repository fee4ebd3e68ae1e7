import { describe, expect, it } from 'vitest';
import { hasImpreciseNumber } from './json-numbers.js';

describe('hasImpreciseNumber', () => {
  it('finds numbers a double cannot hold, and only outside strings', () => {
    expect(hasImpreciseNumber('{"seed":9007199254740993}')).toBe(true);
    expect(hasImpreciseNumber('{"x":[1,2,{"y":-12345678901234567}]}')).toBe(true);
    expect(hasImpreciseNumber('{"t":0.12345678901234567}')).toBe(true);
    expect(hasImpreciseNumber('{"t":12345678.12345678}')).toBe(true);
    expect(hasImpreciseNumber('{"t":1234567.123456789}')).toBe(true);
    expect(hasImpreciseNumber('{"seed":123456789012345,"t":0.7,"e":1.5e300,"z":0.000001}')).toBe(false);
    expect(
      hasImpreciseNumber('{"content":"call 12345678901234567890 now","q":"\\"99999999999999999\\""}'),
    ).toBe(false);
  });

  it('agrees with a round trip through JSON.parse for integers', () => {
    for (const n of [
      '9007199254740991',
      '9007199254740992',
      '9007199254740993',
      '18446744073709551615',
      '100',
    ]) {
      const lossy = String(JSON.parse(n)) !== n;
      if (lossy) expect(hasImpreciseNumber(n), n).toBe(true);
    }
  });
});
