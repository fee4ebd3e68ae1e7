/** The canonical JSON a gateway key is made of: exactly the text it always was, whatever the value. */
import { describe, expect, it } from 'vitest';
import { canonicalJson, isObject } from './endpoint.js';

/** What canonicalJson was: JSON.stringify of a key-sorted, prototype-less copy. Keys must not change. */
function reference(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (!isObject(v)) return v;
    const out: Record<string, unknown> = Object.create(null);
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = sortKeys(v[k]);
    return out;
  };
  return JSON.stringify(sortKeys(value));
}

describe('canonicalJson', () => {
  it('writes what JSON.stringify of a key-sorted copy wrote', () => {
    const values: unknown[] = [
      null,
      true,
      0,
      -0,
      1e21,
      -1.5e-7,
      0.1,
      '',
      'plain text',
      'quote " backslash \\ newline \n tab \t nul \u0000 unit \u001f del \u007f',
      'é 日本 😀 \u2028 \u2029',
      'lone \ud83d surrogate, and \udc00 the other',
      [],
      [1, 'a', null, [[]], {}],
      [undefined, () => 1],
      { b: 1, a: 2, c: { z: [3, { y: 'x', x: 'y' }], a: undefined } },
      { 'k"ey': 1, 'k\\ey': 2, é: 3, '': 4, '😀': 5, '\ud83d': 6 },
      JSON.parse('{"__proto__":{"x":1},"a":[{"__proto__":2}]}'),
      JSON.parse('{"toJSON":"data","constructor":1}'),
      { headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': undefined } },
    ];
    for (const v of values) expect(canonicalJson(v), JSON.stringify(String(v))).toBe(reference(v));
  });

  it('agrees on generated values', () => {
    let seed = 5;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const pieces = ['a', 'Z', ' ', '"', '\\', '\n', '\u0001', 'é', '日', '\ud83d', '\ude00', '😀', '\u2028'];
    const text = () => Array.from({ length: rand(6) }, () => pieces[rand(pieces.length)]).join('');
    const value = (depth: number): unknown => {
      const kind = depth > 4 ? rand(4) : rand(6);
      if (kind === 0) return text();
      if (kind === 1) return [0, -1, 3.25, 1e300, -0.000001, 2 ** 60][rand(6)];
      if (kind === 2) return [true, false, null][rand(3)];
      if (kind === 3) return undefined;
      if (kind === 4) return Array.from({ length: rand(4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: rand(5) }, () => [text(), value(depth + 1)]));
    };
    for (let i = 0; i < 2_000; i++) {
      const v = value(0);
      expect(canonicalJson(v)).toBe(reference(v));
    }
  });
});
