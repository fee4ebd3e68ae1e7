import { describe, expect, it } from 'vitest';
import { copyAnswer, copyJson, DecodedAnswers } from './decoded.js';
import { encodeEntry, newEntry } from './entry.js';
import { deriveKey } from './key.js';

const key = deriveKey('ns', 'model:"m"', 'prompt');
const payload = encodeEntry(
  newEntry(key, [{ text: 'hi', generationInfo: { nested: { list: [1, { deep: true }] } } }], {
    now: 1,
    storePrompt: true,
    tags: ['t'],
  }),
).payload;

describe('DecodedAnswers', () => {
  it('decodes a payload once and gives every caller its own deep copy', () => {
    const decoded = new DecodedAnswers();
    const template = decoded.template(key.hash, payload)!;
    expect(decoded.template(key.hash, payload)).toBe(template);
    const a = copyAnswer(template.answer);
    const b = copyAnswer(template.answer);
    expect(a).toEqual(b);
    (a.gens[0]!.generationInfo!.nested as { list: unknown[] }).list.push('changed');
    a.tags.push('x');
    expect(b.gens[0]!.generationInfo).toEqual({ nested: { list: [1, { deep: true }] } });
    expect(copyAnswer(template.answer).tags).toEqual(['t']);
  });

  it('refuses what does not decode, and keeps within its byte budget', () => {
    const decoded = new DecodedAnswers(payload.length * 2, payload.length);
    expect(decoded.template(key.hash, 'not a payload')).toBeUndefined();
    const variants = [0, 1, 2].map((i) => payload.replace('"hi"', `"hi${i}"`));
    const first = decoded.template(`k0`, variants[0]!);
    decoded.template(`k1`, variants[1]!);
    decoded.template(`k2`, variants[2]!);
    // The oldest was dropped for the budget: decoding it again makes a new template.
    expect(decoded.template(`k0`, variants[0]!)).not.toBe(first);
    expect(decoded.template(`k0`, variants[0]!)?.answer).toEqual(first?.answer);
  });

  it('uses a template only for the exact bytes it was decoded from', () => {
    const decoded = new DecodedAnswers();
    const first = decoded.template(key.hash, payload)!;
    // The same bytes in another string object (what a network tier returns) find the template.
    expect(decoded.template(key.hash, `${payload} `.slice(0, -1))).toBe(first);
    // A new answer stored under the key is decoded, and replaces the old template.
    const changed = payload.replace('"hi"', '"bye"');
    const second = decoded.template(key.hash, changed)!;
    expect(second.answer.gens[0]!.text).toBe('bye');
    expect(decoded.template(key.hash, changed)).toBe(second);
    expect(decoded.template(key.hash, payload)!.answer.gens[0]!.text).toBe('hi');
  });

  it('copies a `__proto__` key as data, as JSON.parse made it', () => {
    const parsed = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>;
    const copy = copyJson(parsed) as Record<string, unknown>;
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
    expect(JSON.stringify(copy)).toBe(JSON.stringify(parsed));
  });
});
