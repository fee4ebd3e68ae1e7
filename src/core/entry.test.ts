import { describe, expect, it } from 'vitest';
import { decodeAnswer, decodeEntry, encodeEntry, newEntry } from './entry.js';
import { deriveKey } from './key.js';

describe('entry envelope', () => {
  const entry = {
    v: 1 as const,
    k: 'a'.repeat(64),
    ns: 'n',
    llm: 'l',
    prompt: 'p',
    gens: [{ text: 'x' }],
    createdAt: 1,
    expiresAt: null,
    tags: ['t'],
  };

  it('round-trips an entry, and a hit reads only the answer', () => {
    const { payload } = encodeEntry(entry);
    expect(decodeEntry(payload)).toEqual(entry);
    expect(decodeAnswer(payload)).toEqual({
      v: 1,
      k: entry.k,
      ns: 'n',
      gens: [{ text: 'x' }],
      createdAt: 1,
      expiresAt: null,
      tags: ['t'],
    });
    expect(encodeEntry(decodeEntry(payload)!).payload).toBe(payload);
  });

  it('decodes nothing that is not a current, well-formed entry', () => {
    const { payload } = encodeEntry(entry);
    const [head, gens, origin] = payload.split('\n');
    expect(decodeAnswer('not json')).toBeUndefined();
    expect(decodeAnswer('null\nnull\nnull')).toBeUndefined();
    expect(decodeAnswer(`${head!.replace('"v":1', '"v":2')}\n${gens}\n${origin}`)).toBeUndefined();
    expect(decodeAnswer(`${head}\n[{"txt":1}]\n${origin}`)).toBeUndefined();
    expect(decodeAnswer(`${head}\n${gens}`)).toBeUndefined();
    expect(decodeEntry(`${head}\n${gens}\n{"prompt":"p"}`)).toBeUndefined();
    expect(decodeEntry(payload.slice(0, -3))).toBeUndefined();
  });
});

describe('newEntry', () => {
  const key = deriveKey('tenant', 'llm', 'What is WAL?');

  it('keeps the prompt, or only its hash under storePrompt: false, and turns a TTL into an expiry', () => {
    const kept = newEntry(key, [{ text: 'x' }], { now: 1_000, storePrompt: true, ttlMs: 500, tags: ['a'] });
    expect(kept).toMatchObject({
      k: key.hash,
      ns: 'tenant',
      llm: 'llm',
      prompt: 'What is WAL?',
      expiresAt: 1_500,
      tags: ['a'],
    });
    const hashed = newEntry(key, [{ text: 'x' }], { now: 1_000, storePrompt: false, ttlMs: null });
    expect(hashed.prompt).toBeUndefined();
    expect(hashed.ph).toMatch(/^[0-9a-f]{64}$/);
    expect(hashed.expiresAt).toBeNull();
  });
});
