import { describe, expect, it } from 'vitest';
import { encodeEntry } from './entry.js';
import {
  entryKeyProblem,
  entryLineSchema,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  validateEntryLine,
} from './entry-schema.js';
import { hashKey, hashPrompt } from './key.js';

const LLM = 'model:"m",temperature:0';

function entry(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const e: Record<string, unknown> = {
    v: 1,
    k: hashKey('app', LLM, 'hello'),
    ns: 'app',
    createdAt: 1_767_225_600_000,
    expiresAt: null,
    tags: ['faq'],
    gens: [
      {
        text: 'hi',
        message: { type: 'ai', data: { content: 'hi', additional_kwargs: {}, response_metadata: {} } },
        generationInfo: { finish_reason: 'stop' },
      },
    ],
    llm: LLM,
    prompt: 'hello',
  };
  for (const [field, value] of Object.entries(overrides)) {
    if (value === undefined) delete e[field];
    else e[field] = value;
  }
  return e;
}

function reason(x: unknown): string {
  const result = validateEntryLine(x);
  if (result.ok) throw new Error('expected a rejection');
  return result.reason;
}

describe('entry line schema', () => {
  it('accepts an exported entry and hands back the very object, so it re-encodes byte for byte', () => {
    const line = JSON.stringify(entry({ meta: { z: 1, a: 2 } }));
    const parsed: unknown = JSON.parse(line);
    const result = validateEntryLine(parsed);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.entry).toBe(parsed);
    expect(encodeEntry(result.entry).payload.split('\n')[1]).toBe(
      JSON.stringify((parsed as { gens: unknown }).gens),
    );
  });

  it('accepts ph instead of prompt, an expiry, array content and every message type with its field', () => {
    const hashed = entry({ prompt: undefined, ph: hashPrompt('hello'), expiresAt: 1_767_229_200_000 });
    expect(validateEntryLine(hashed).ok).toBe(true);
    const gens = [
      { text: 'a', message: { type: 'human', data: { content: [{ type: 'text', text: 'a' }] } } },
      { text: 'b', message: { type: 'system', data: { content: 'b' } } },
      { text: 'c', message: { type: 'function', data: { content: 'c', name: 'f' } } },
      { text: 'd', message: { type: 'tool', data: { content: 'd', tool_call_id: 't1' } } },
      { text: 'e', message: { type: 'generic', data: { content: 'e', role: 'critic' } } },
      { text: 'plain' },
    ];
    expect(validateEntryLine(entry({ gens })).ok).toBe(true);
  });

  it('requires this version and hex hashes', () => {
    expect(reason(entry({ v: 2 }))).toBe("v: must be 1 (this version's entry format)");
    expect(reason(entry({ k: 'abc' }))).toBe('k: the key hash must be 64 lowercase hex digits');
    expect(reason(entry({ k: hashKey('app', LLM, 'hello').toUpperCase() }))).toMatch(/^k: /);
    expect(reason(entry({ prompt: undefined, ph: 'z'.repeat(64) }))).toBe(
      'ph: the prompt hash must be 64 lowercase hex digits',
    );
  });

  it('validates the namespace as the cache does', () => {
    expect(reason(entry({ ns: '' }))).toBe('ns: must be 1-256 characters long');
    expect(reason(entry({ ns: 'n'.repeat(5000) }))).toBe('ns: must be 1-256 characters long');
    expect(reason(entry({ ns: 7 }))).toBe('ns: must be a string');
    expect(validateEntryLine(entry({ ns: 'n'.repeat(256) })).ok).toBe(true);
  });

  it('wants exactly one of prompt and ph', () => {
    expect(reason(entry({ prompt: undefined }))).toBe(
      'prompt: exactly one of prompt and ph (its hash) must be present',
    );
    expect(reason(entry({ ph: hashPrompt('hello') }))).toBe(
      'ph: exactly one of prompt and ph (its hash) must be present',
    );
    expect(reason(entry({ prompt: 5 }))).toBe('prompt: must be a string');
    expect(reason(entry({ llm: null }))).toBe('llm: must be a string');
  });

  it('takes an excerpt of the prompt only beside ph, and only a bounded one', () => {
    const hashed = { prompt: undefined, ph: hashPrompt('hello') };
    expect(validateEntryLine(entry({ ...hashed, excerpt: 'hel…' })).ok).toBe(true);
    expect(reason(entry({ excerpt: 'hel…' }))).toBe(
      'excerpt: an excerpt stands in for a prompt stored as its hash (ph), not beside the prompt',
    );
    expect(reason(entry({ ...hashed, excerpt: 'x'.repeat(8_193) }))).toBe(
      'excerpt: must be at most 8192 characters',
    );
    expect(reason(entry({ ...hashed, excerpt: 3 }))).toBe('excerpt: must be a string');
  });

  it('wants finite, non-negative times', () => {
    expect(reason(entry({ createdAt: '2026-01-01' }))).toBe('createdAt: must be a finite number');
    expect(
      reason(JSON.parse(JSON.stringify(entry()).replace('"createdAt":1767225600000', '"createdAt":1e999'))),
    ).toBe('createdAt: must be a finite number');
    expect(reason(entry({ createdAt: -1 }))).toBe('createdAt: must not be negative');
    expect(reason(entry({ expiresAt: 1e300 }))).toBe('expiresAt: must be an epoch time in milliseconds');
    expect(reason(entry({ expiresAt: undefined }))).toBe('expiresAt: must be a finite number');
  });

  it('wants tags as a bounded list of distinct non-empty strings', () => {
    expect(reason(entry({ tags: [{ x: 1 }] }))).toBe('tags[0]: must be a string');
    expect(reason(entry({ tags: ['ok', ''] }))).toBe('tags[1]: must not be empty');
    expect(reason(entry({ tags: ['t'.repeat(MAX_TAG_LENGTH + 1)] }))).toBe(
      `tags[0]: must be at most ${MAX_TAG_LENGTH} characters`,
    );
    const many = Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`);
    expect(reason(entry({ tags: many }))).toBe(`tags: must hold at most ${MAX_TAGS} tags`);
    expect(reason(entry({ tags: ['a', 'a'] }))).toBe('tags: must not repeat a tag');
    expect(reason(entry({ tags: 'faq' }))).toBe('tags: must be an array of strings');
    expect(validateEntryLine(entry({ tags: [] })).ok).toBe(true);
  });

  it('wants meta, if any, to be a JSON object', () => {
    expect(reason(entry({ meta: 'string' }))).toBe('meta: must be a JSON object');
    expect(reason(entry({ meta: [1] }))).toBe('meta: must be a JSON object');
    expect(reason(entry({ meta: null }))).toBe('meta: must be a JSON object');
    expect(validateEntryLine(entry({ meta: { nested: { ok: true } } })).ok).toBe(true);
  });

  it('wants generations the cache can turn back into LangChain messages', () => {
    const gen = (g: unknown) => reason(entry({ gens: [g] }));
    expect(reason(entry({ gens: [] }))).toBe('gens: must hold at least one generation');
    expect(reason(entry({ gens: {} }))).toBe('gens: must be an array of generations');
    expect(gen(null)).toBe('gens[0]: must be a JSON object');
    expect(gen({ text: 1 })).toBe('gens[0].text: must be a string');
    expect(gen({ text: 'x', message: { type: 'ai', data: null } })).toBe(
      'gens[0].message.data: must be a JSON object',
    );
    expect(gen({ text: 'x', message: { type: 'ai', data: {} } })).toBe(
      'gens[0].message.data.content: must be a string or an array of content blocks',
    );
    expect(gen({ text: 'x', message: { type: 'ai', data: { content: [null] } } })).toBe(
      'gens[0].message.data.content: must be a string or an array of content blocks',
    );
    expect(gen({ text: 'x', message: { type: 'robot', data: { content: 'x' } } })).toMatch(
      /^gens\[0\]\.message\.type: must be one of human, ai, system, function, tool, generic$/,
    );
    expect(gen({ text: 'x', message: { type: 'tool', data: { content: 'x' } } })).toBe(
      'gens[0].message.data.tool_call_id: a tool message needs a string tool_call_id',
    );
    expect(gen({ text: 'x', generationInfo: 'stop' })).toBe('gens[0].generationInfo: must be a JSON object');
    expect(gen({ text: 'x', message: { type: 'ai', data: { content: 'x', tool_calls: [1] } } })).toBe(
      'gens[0].message.data.tool_calls[0]: must be a JSON object',
    );
    expect(gen({ text: 'x', message: { type: 'ai', data: { content: 'x', usage_metadata: 5 } } })).toBe(
      'gens[0].message.data.usage_metadata: must be a JSON object or null',
    );
    expect(gen({ text: 'x', message: { type: 'ai', data: { content: 'x', additional_kwargs: [] } } })).toBe(
      'gens[0].message.data.additional_kwargs: must be a JSON object or null',
    );
    expect(gen({ text: 'x', extra: 1 })).toMatch(/^gens\[0\]: Unrecognized key: "extra"$/);
  });

  it('lets a message with string content stand in for a missing text, and nothing else', () => {
    const withMessage = { message: { type: 'ai', data: { content: 'the answer' } } };
    expect(validateEntryLine(entry({ gens: [withMessage] })).ok).toBe(true);
    expect(reason(entry({ gens: [{}] }))).toBe(
      'gens[0].text: must be a string (only a message with string content may stand in for it)',
    );
    expect(
      reason(entry({ gens: [{ message: { type: 'ai', data: { content: [{ type: 'text' }] } } }] })),
    ).toBe('gens[0].text: must be a string (only a message with string content may stand in for it)');
  });

  it('refuses anything that is not an object with exactly the entry fields', () => {
    expect(reason(null)).toBe('the line: must be a JSON object');
    expect(reason([])).toBe('the line: must be a JSON object');
    expect(reason('entry')).toBe('the line: must be a JSON object');
    expect(reason(entry({ extra: true }))).toBe('the line: Unrecognized key: "extra"');
    const proto: unknown = JSON.parse(JSON.stringify(entry()).replace('{', '{"__proto__":{"polluted":1},'));
    expect(reason(proto)).toBe('the line: Unrecognized key: "__proto__"');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('names at most three problems and keeps each one short', () => {
    const bad = entry({ v: 0, k: 1, ns: 2, llm: 3, tags: 4 });
    expect(reason(bad)).toMatch(/^v: .*; k: .*; ns: .*; \d+ more$/);
    expect(reason(entry({ ['x'.repeat(10_000)]: 1 })).length).toBeLessThan(260);
  });

  it('is a zod schema callers may use directly', () => {
    expect(entryLineSchema.safeParse(entry()).success).toBe(true);
  });
});

describe('entryKeyProblem', () => {
  const e = (overrides: Record<string, unknown> = {}) => {
    const result = validateEntryLine(entry(overrides));
    if (!result.ok) throw new Error(result.reason);
    return result.entry;
  };

  it('accepts an entry whose hash is its namespace, llm and prompt', () => {
    expect(entryKeyProblem(e(), { trustHashes: false })).toBeUndefined();
  });

  it('refuses a hash of another namespace, llm or prompt', () => {
    const mismatch = 'its key hash does not match its namespace, llm and prompt';
    expect(entryKeyProblem(e({ ns: 'other' }), { trustHashes: false })).toBe(mismatch);
    expect(entryKeyProblem(e({ llm: 'model:"n"' }), { trustHashes: true })).toBe(mismatch);
    expect(entryKeyProblem(e({ prompt: 'hello!' }), { trustHashes: true })).toBe(mismatch);
  });

  it('refuses an llm string that still carries a secret, whatever its hash', () => {
    const llm = 'apiKey:"sk-proj-abcdefghijklmnopqrstuvwxyz",model:"m"';
    const line = e({ llm, k: hashKey('app', llm, 'hello') });
    expect(entryKeyProblem(line, { trustHashes: true })).toMatch(/carries a secret/);
  });

  it('accepts an entry with only ph only when the caller trusts the file', () => {
    const hashed = e({ prompt: undefined, ph: hashPrompt('hello') });
    expect(entryKeyProblem(hashed, { trustHashes: false })).toMatch(/cannot be verified.*--trust-hashes/);
    expect(entryKeyProblem(hashed, { trustHashes: true })).toBeUndefined();
  });
});
