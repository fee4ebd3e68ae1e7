/**
 * The gateway's hit path keeps two things between requests (issue 32): what a body seen before
 * derived (stages/known.ts) and the bytes a hit was sent as (stages/prepared.ts). Neither may
 * ever answer one tenant, request shape or entry with what was made for another; both are
 * bounded. And the engine's shared answers, which the gateway reads without copying and keeps
 * those bytes by, are frozen, and another object once the entry changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import { deriveKey } from '../core/key.js';
import { setDigestKey } from '../core/secrets.js';
import { createStrata } from '../engine/create.js';
import { anthropicMessages } from './endpoints/anthropic-messages.js';
import { openaiChat } from './endpoints/openai-chat.js';
import { SseParser } from './sse.js';
import type { Derived } from './stages/known.js';
import { KnownRequests } from './stages/known.js';
import { PreparedHits, shapeOf } from './stages/prepared.js';
import { credentialPart } from './tenancy.js';

type Json = Record<string, unknown>;

const body = (question: string, extra: Json = {}) =>
  JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }], ...extra });

describe('known requests', () => {
  const raw = Buffer.from(body('What is SSE?'));
  const digest = (
    o: {
      endpoint?: typeof openaiChat;
      namespace?: string;
      search?: string;
      headers?: Record<string, string>;
      bytes?: Buffer;
    } = {},
  ) =>
    new KnownRequests().digest(
      o.endpoint ?? openaiChat,
      o.namespace ?? 'strata/key:a',
      o.search ?? '',
      o.headers ?? {},
      o.bytes ?? raw,
    );

  it('digests everything a derivation reads, and nothing else', () => {
    const base = digest();
    expect(digest()).toBe(base);
    // Headers no endpoint keys (an SDK's retry count, a user agent) are not part of it.
    expect(digest({ headers: { 'user-agent': 'x', 'x-stainless-retry-count': '1' } })).toBe(base);
    const others = [
      digest({ namespace: 'strata/key:b' }),
      digest({ search: '?api-version=1' }),
      digest({ headers: { 'cache-control': 'no-cache' } }),
      digest({ endpoint: anthropicMessages }),
      digest({ bytes: Buffer.from(body('What is SSE? ')) }),
      digest({ bytes: Buffer.from(body('What is SSE?', { temperature: 0 })) }),
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
    // Fields cannot run into each other: a namespace that ends where the query begins is another.
    expect(digest({ namespace: 'strata/a', search: '?b' })).not.toBe(
      digest({ namespace: 'strata/a?', search: 'b' }),
    );
  });

  it("reads an endpoint's keyed headers (Anthropic's version and beta) and the digest key", () => {
    const messages = (headers: Record<string, string>) => digest({ endpoint: anthropicMessages, headers });
    expect(messages({ 'anthropic-version': '2023-06-01' })).not.toBe(messages({}));
    expect(messages({ 'anthropic-beta': 'x' })).not.toBe(messages({}));
    setDigestKey('hit-path-digest-key-A-0123456789abcdef');
    const underA = messages({});
    try {
      // Scrubbed bodies hold digests made with the digest key: another key, another derivation.
      setDigestKey('hit-path-digest-key-B-0123456789abcdef');
      expect(messages({})).not.toBe(underA);
    } finally {
      setDigestKey(undefined);
    }
  });

  it('is bounded by entries and by the characters it keeps, oldest out first', () => {
    const derived = (prompt: string): Derived => ({
      canonical: { model: 'm', prompt, question: '', stream: false, includeUsage: false },
      controls: { noCache: false, noStore: false, onlyIfCached: false },
      key: { ...deriveKey('ns', 'llm', prompt), question: '' },
      model: 'm',
      hasCache: false,
      asksToStore: false,
      echo: '',
    });
    const byCount = new KnownRequests(3, 1_000_000);
    for (const d of ['a', 'b', 'c', 'd']) byCount.set(d, derived(d));
    expect(byCount.size).toBe(3);
    expect(byCount.get('a')).toBeUndefined();
    expect(byCount.get('d')?.canonical.prompt).toBe('d');
    const byChars = new KnownRequests(100, 250);
    for (const d of ['a', 'b', 'c']) byChars.set(d, derived(d.repeat(100)));
    expect(byChars.size).toBe(2);
    expect(byChars.get('a')).toBeUndefined();
    byChars.set('huge', derived('x'.repeat(300)));
    expect(byChars.get('huge')).toBeUndefined();
    // A body larger than maxBody is never kept: it has no digest.
    expect(new KnownRequests(10, 1000, 8).digest(openaiChat, 'n', '', {}, raw)).toBeUndefined();
  });
});

describe('remembered credentials', () => {
  it('never take one (where, value) pair for another, whatever characters they hold', () => {
    const first = credentialPart('?a\u0000b', 'token-value-1');
    const second = credentialPart('?a', 'b\u0000token-value-1');
    expect(first).toBe('?a\u0000b:token-value-1');
    expect(second).toBe('?a:b\u0000token-value-1');
    expect(credentialPart('?a\u0000b', 'token-value-1')).toBe(first);
    expect(credentialPart('authorization', 'Bearer   sk-one')).toBe('authorization:bearer sk-one');
    expect(credentialPart('authorization', 'Bearer')).toBeUndefined();
    expect(credentialPart('authorization', 'Bearer')).toBeUndefined();
  });
});

describe('prepared hits', () => {
  it('sends bytes only for the very answer they were built from, in their own shape', () => {
    const prepared = new PreparedHits();
    const json = shapeOf(false, false, true, '');
    const answer = Object.freeze({ v: 1 });
    prepared.set('k1', json, answer, Buffer.from('one'));
    expect(prepared.get('k1', json, answer)?.toString()).toBe('one');
    // Another answer under the key (a new one stored), even an equal one: not these bytes, and
    // they are let go.
    expect(prepared.get('k1', json, Object.freeze({ v: 1 }))).toBeUndefined();
    expect(prepared.get('k1', json, answer)).toBeUndefined();
    prepared.set('k1', json, answer, Buffer.from('one'));
    for (const other of [
      shapeOf(true, false, true, ''),
      shapeOf(true, true, true, ''),
      shapeOf(false, false, false, ''),
      shapeOf(false, false, true, '["echoed"]'),
    ])
      expect(prepared.get('k1', other, answer)).toBeUndefined();
    expect(prepared.get('k2', json, answer)).toBeUndefined();
  });

  it('is bounded in bytes, least recently used out first, and keeps no large body', () => {
    const prepared = new PreparedHits(700, 100);
    const shape = shapeOf(false, false, true, '');
    const answer = {};
    for (const k of ['a', 'b', 'c']) prepared.set(k, shape, answer, Buffer.alloc(90));
    expect(prepared.size).toBe(3);
    prepared.set('d', shape, answer, Buffer.alloc(90));
    expect(prepared.size).toBe(3);
    expect(prepared.get('a', shape, answer)).toBeUndefined();
    prepared.set('big', shape, answer, Buffer.alloc(101));
    expect(prepared.get('big', shape, answer)).toBeUndefined();
  });
});

describe('the hit path through the gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  const post = async (payload: string, key: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: payload,
    });
    return { status: res.status, cache: res.headers.get('x-strata-cache'), text: await res.text() };
  };
  const content = (text: string) =>
    ((JSON.parse(text) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content ??
      '') as string;
  /** The text a replayed stream carries, from its events. */
  const streamed = (text: string) => {
    const events = new SseParser().push(text);
    return events
      .filter((e) => e.data !== '[DONE]')
      .map((e) => {
        const chunk = JSON.parse(e.data) as { choices: Array<{ delta: { content?: string } }> };
        return chunk.choices.map((c) => c.delta.content ?? '').join('');
      })
      .join('');
  };

  it("never sends one tenant the bytes built for another's entry, JSON or streamed", async () => {
    const payload = body('hit-path: same body, two tenants');
    const stream = body('hit-path: same body, two tenants', { stream: true });
    const a = await post(payload, 'sk-tenant-a-0123456789');
    const b = await post(payload, 'sk-tenant-b-0123456789');
    expect([a.cache, b.cache]).toEqual(['miss', 'miss']);
    expect(content(a.text)).not.toBe(content(b.text));
    for (let round = 0; round < 3; round++) {
      const hitA = await post(payload, 'sk-tenant-a-0123456789');
      const hitB = await post(payload, 'sk-tenant-b-0123456789');
      expect([hitA.cache, hitB.cache]).toEqual(['hit', 'hit']);
      expect(content(hitA.text)).toBe(content(a.text));
      expect(content(hitB.text)).toBe(content(b.text));
      const sseA = await post(stream, 'sk-tenant-a-0123456789');
      const sseB = await post(stream, 'sk-tenant-b-0123456789');
      expect(streamed(sseA.text)).toBe(content(a.text));
      expect(streamed(sseB.text)).toBe(content(b.text));
    }
  });

  it('sends the same bytes the first hit was built as, in each shape', async () => {
    const key = 'sk-tenant-shapes-0123456789';
    const question = 'hit-path: every shape of one entry';
    await post(body(question), key);
    const shapes = [
      body(question),
      body(question, { stream: true }),
      body(question, { stream: true, stream_options: { include_usage: true } }),
    ];
    const first = [];
    for (const s of shapes) first.push(await post(s, key));
    const again = [];
    for (const s of shapes) again.push(await post(s, key));
    expect(again.map((r) => r.text)).toEqual(first.map((r) => r.text));
    expect(new Set(first.map((r) => r.text)).size).toBe(3);
    const [json, sse, sseUsage] = first.map((r) => r.text);
    expect(JSON.parse(json!)).toMatchObject({ object: 'chat.completion', strata: { cache: 'hit' } });
    expect(sse).not.toContain('"usage"');
    expect(sseUsage).toContain('"strata":{"cache":"hit"');
  });

  it('sends a changed entry as it is now, never the bytes kept for what it was', async () => {
    const key = 'sk-tenant-changed-0123456789';
    const payload = body('hit-path: an entry that changes');
    const stream = body('hit-path: an entry that changes', { stream: true });
    const first = await post(payload, key);
    expect(content((await post(payload, key)).text)).toBe(content(first.text));
    expect(streamed((await post(stream, key)).text)).toBe(content(first.text));
    // no-cache: the upstream answers again and its answer replaces the entry.
    const refreshed = await post(payload, key, { 'cache-control': 'no-cache' });
    expect(refreshed.cache).toBe('miss');
    expect(content(refreshed.text)).not.toBe(content(first.text));
    const hit = await post(payload, key);
    expect(hit.cache).toBe('hit');
    expect(content(hit.text)).toBe(content(refreshed.text));
    expect(streamed((await post(stream, key)).text)).toBe(content(refreshed.text));
  });

  it('takes a known body with other controls as those controls say, not as it was first keyed', async () => {
    const key = 'sk-tenant-controls-0123456789';
    const payload = body('hit-path: known body, new controls');
    await post(payload, key);
    expect((await post(payload, key)).cache).toBe('hit');
    expect((await post(payload, key, { 'cache-control': 'no-store, no-cache' })).cache).toBe('bypass');
    const only = await post(body('hit-path: never asked before'), key, { 'cache-control': 'only-if-cached' });
    expect(only.status).toBe(504);
  });
});

describe("the engine's shared answers", () => {
  it('are one frozen object for readers that ask for it, a copy of their own for the others', async () => {
    const strata = await createStrata(
      { namespace: 'app', defaultTtlSeconds: 60, coalesceWaitMs: 0, tiers: [{ type: 'memory' }] },
      { logger: { warn: () => {} } },
    );
    try {
      const key = deriveKey('app', 'model=m', 'hit-path: shared');
      await strata.update(key, [{ text: 'Paris', generationInfo: { response: { a: [1] } } }], {
        ttlMs: 60_000,
      });
      const one = await strata.lookup(key, { shared: true });
      const two = await strata.lookup(key, { shared: true });
      expect(one?.entry).toBe(two?.entry);
      expect(Object.isFrozen(one?.entry.gens[0]?.generationInfo)).toBe(true);
      expect(() => {
        (one!.entry.gens[0]!.generationInfo as { response: Json }).response.b = 1;
      }).toThrow(TypeError);
      const own = await strata.lookup(key);
      expect(own?.entry).not.toBe(one?.entry);
      expect(Object.isFrozen(own?.entry.gens[0])).toBe(false);
      // A new answer stored under the key is another shared object: nothing kept for the old one
      // (stages/prepared.ts) is sent for it.
      await strata.update(key, [{ text: 'Lyon', generationInfo: { response: { a: [2] } } }], {
        ttlMs: 60_000,
      });
      const changed = await strata.lookup(key, { shared: true });
      expect(changed?.entry).not.toBe(one?.entry);
      expect(changed?.entry.gens[0]?.text).toBe('Lyon');
    } finally {
      await strata.close();
    }
  });
});
