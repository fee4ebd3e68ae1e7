import { describe, expect, it } from 'vitest';
import {
  decodeAnswer,
  decodeEntry,
  encodeEntry,
  entryHasPrompt,
  newEntry,
  promptExcerpt,
  STORED_PROMPT_CHARS,
} from './entry.js';
import { deriveKey, hashPrompt } from './key.js';

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

  it('keeps a prompt longer than maxPromptChars as its hash and an excerpt, in the payload and the column', () => {
    const long = `${'a'.repeat(10_000)}the question?`;
    const longKey = deriveKey('tenant', 'llm', long);
    const o = { now: 1, storePrompt: true, maxPromptChars: STORED_PROMPT_CHARS };
    const bounded = newEntry(longKey, [{ text: 'x' }], o);
    expect(bounded.prompt).toBeUndefined();
    expect(bounded.ph).toBe(hashPrompt(long));
    expect(bounded.excerpt).toBe(promptExcerpt(long, STORED_PROMPT_CHARS));
    expect(entryHasPrompt(bounded, long)).toBe(true);
    expect(entryHasPrompt(bounded, bounded.excerpt!)).toBe(false);
    const stored = encodeEntry(bounded);
    expect(stored.prompt).toBe(bounded.excerpt);
    expect(stored.size).toBeLessThan(STORED_PROMPT_CHARS + 300);
    expect(decodeEntry(stored.payload)).toEqual(bounded);
    // Up to the bound, and without one (the library), the prompt is kept whole.
    expect(newEntry(key, [{ text: 'x' }], o).prompt).toBe('What is WAL?');
    expect(newEntry(longKey, [{ text: 'x' }], { now: 1, storePrompt: true }).prompt).toBe(long);
    // Under storePrompt: false there is no excerpt either.
    const hashed = newEntry(longKey, [{ text: 'x' }], { ...o, storePrompt: false });
    expect(hashed.excerpt).toBeUndefined();
    expect(encodeEntry(hashed).prompt).toBeUndefined();
  });
});

describe('promptExcerpt', () => {
  it('keeps the start and the end, says how much is left out, and never splits a surrogate pair', () => {
    const text = `${'s'.repeat(1_000)}${'m'.repeat(10_000)}${'e'.repeat(3_000)}`;
    const excerpt = promptExcerpt(text, 4_000);
    expect(excerpt).toBe(`${'s'.repeat(1_000)}\n…[10000 characters left out]…\n${'e'.repeat(3_000)}`);
    expect(promptExcerpt('short', 4_000)).toBe('short');
    for (let shift = 0; shift < 4; shift++) {
      const emoji = `${'x'.repeat(shift)}${'😀'.repeat(5_000)}`;
      const cut = promptExcerpt(emoji, 4_000);
      expect(cut.isWellFormed()).toBe(true);
      expect(cut.length).toBeLessThanOrEqual(4_000 + 40);
    }
  });
});
