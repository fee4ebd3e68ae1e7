/**
 * Bounded body reading (body.ts): the scan agrees with JSON.parse on what forwarding and keying
 * need, however the bytes are split, and a body too large, too deep or too full of containers to
 * key is forwarded byte for byte, uncached, with the reason, and never parsed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeLlm } from '../../test/support/fake-llm.js';
import { startGateway, type TestGateway } from '../../test/support/gateway.js';
import { type Body, JsonScanner, MAX_KEYED_DEPTH } from './body.js';
import { hasImpreciseNumber } from './json-numbers.js';

/** Scans `text` in pieces cut at the given sizes (cycled), as a socket might deliver it. */
function scan(text: string, cuts: number[] = [text.length || 1], maxKeyedBytes = 1 << 30): Body {
  const bytes = Buffer.from(text);
  const scanner = new JsonScanner(maxKeyedBytes);
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = Math.max(1, cuts[i % cuts.length]!);
    scanner.push(bytes.subarray(at, at + size));
    at += size;
  }
  return scanner.finish(bytes);
}

/** What the scan must agree on, as JSON.parse and the text scan see it. */
function expected(text: string) {
  const parsed = JSON.parse(text) as unknown;
  const object = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  const model = object ? (parsed as Record<string, unknown>).model : undefined;
  return {
    model: typeof model === 'string' ? model : undefined,
    hasCache: object && 'cache' in (parsed as object),
    impreciseNumber: hasImpreciseNumber(text),
  };
}

const BODIES = [
  '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}',
  '  {"messages":[{"role":"user","content":"say \\"model\\": \\"x\\" {[["}],"model":"m-2","cache":{"ttl":5}}',
  '{"model":"a","model":"b","seed":9007199254740993}',
  '{"model":"a","x":{"model":"inner","cache":1},"y":["model","cache"]}',
  '{"mod\\u0065l":"esc\\u0061ped","c\\u0061che":null}',
  '{"model":"with \\\\ backslash \\"quote\\" and é ü 日本 😀","cache":false}',
  '{"model":"m","model":7}',
  '{"model":"m","t":0.12345678901234567,"n":[1,-2.5e10,0,0.0001]}',
  '{"q":"12345678901234567890 in a string","e":1.5e300,"z":-0.000001}',
  '[{"model":"not top-level object"}]',
  '"a string body"',
  '{"cache":{"no-cache":true},"model":"later"}',
  '{}',
];

describe('the body scan', () => {
  it('agrees with JSON.parse on model, cache and imprecise numbers, however the bytes are split', () => {
    for (const text of BODIES) {
      const want = expected(text);
      for (const cuts of [[text.length], [1], [2], [3], [5, 1, 7], [13]]) {
        const got = scan(text, cuts);
        expect(
          { model: got.model, hasCache: got.hasCache, impreciseNumber: got.impreciseNumber },
          text,
        ).toEqual(want);
        expect(got.unkeyed, text).toBeUndefined();
      }
    }
  });

  it('agrees with JSON.parse on generated bodies', () => {
    let seed = 27;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const strings = ['model', 'cache', 'm\\"x', '[{', 'é😀', '\\u0041', '', 'a,b:c'];
    const keys = ['model', 'cache', 'messages', 'x', 'mod\\u0065l', 'c"', 'seed'];
    const numbers = ['0', '-1', '3.25', '1e21', '12345678901234567', '0.000000000000000001', '-0.5E-3'];
    const value = (depth: number): string => {
      const kind = depth > 3 ? rand(3) : rand(6);
      if (kind === 0) return JSON.stringify(strings[rand(strings.length)]);
      if (kind === 1) return numbers[rand(numbers.length)]!;
      if (kind === 2) return ['true', 'false', 'null'][rand(3)]!;
      if (kind === 3) return `[${Array.from({ length: rand(4) }, () => value(depth + 1)).join(', ')}]`;
      const members = Array.from(
        { length: rand(5) },
        () => `${JSON.stringify(keys[rand(keys.length)])} : ${value(depth + 1)}`,
      );
      return `{${members.join(',')}}`;
    };
    for (let i = 0; i < 500; i++) {
      const text = ` ${value(0)} `;
      const got = scan(text, [1 + rand(9), 1 + rand(3)]);
      expect(
        { model: got.model, hasCache: got.hasCache, impreciseNumber: got.impreciseNumber },
        text,
      ).toEqual(expected(text));
    }
  });

  it('counts depth outside strings only, and refuses to key past the limit', () => {
    const nested = (d: number) => `{"model":"m","x":${'['.repeat(d - 1)}${']'.repeat(d - 1)}}`;
    expect(scan(nested(MAX_KEYED_DEPTH), [7]).unkeyed).toBeUndefined();
    expect(scan(nested(MAX_KEYED_DEPTH + 1), [7]).unkeyed).toMatch(/nested more than 128 levels/);
    const inString = `{"model":"m","x":"${'[{'.repeat(10_000)}"}`;
    expect(scan(inString, [3]).unkeyed).toBeUndefined();
    // Past the limit the scan still finds the top-level fields that come after the deep part.
    const deepThenModel = `{"x":${'['.repeat(500)}${']'.repeat(500)},"model":"late","cache":{}}`;
    const deep = scan(deepThenModel, [64]);
    expect(deep.unkeyed).toMatch(/nested/);
    expect(deep.model).toBe('late');
    expect(deep.hasCache).toBe(true);
  });

  it('refuses to key a body with more objects and arrays than its byte budget allows', () => {
    const wide = (n: number) => `{"model":"m","x":[${Array(n).fill('[]').join(',')}]}`;
    // 64 kB of budget: 1,024 containers (the floor), two of them the body and `x`.
    expect(scan(wide(1_022), [100], 65_536).unkeyed).toBeUndefined();
    expect(scan(wide(1_023), [100], 65_536).unkeyed).toMatch(/more than 1024 objects and arrays/);
  });

  it('refuses to key a body larger than maxKeyedBytes', () => {
    const text = `{"model":"m","x":"${'a'.repeat(2_000)}"}`;
    expect(scan(text, [100], text.length).unkeyed).toBeUndefined();
    expect(scan(text, [100], text.length - 1).unkeyed).toMatch(/larger than maxKeyedBytes/);
  });
});

/** An upstream that keeps the exact bytes of every request and answers a fixed chat completion. */
async function rawUpstream(): Promise<FakeLlm & { bodies: Buffer[] }> {
  const bodies: Buffer[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    bodies.push(Buffer.concat(chunks));
    const body = JSON.stringify({
      id: 'chatcmpl-raw',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    bodies,
    calls: [],
    streams: [],
    count: () => bodies.length,
    pieceDelayMs: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('bodies the gateway does not key', () => {
  let upstream: Awaited<ReturnType<typeof rawUpstream>>;
  let gw: TestGateway;
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bounded-user', ...headers },
      body,
    });

  beforeAll(async () => {
    upstream = await rawUpstream();
    gw = await startGateway({ fake: upstream, proxy: { maxKeyedBytes: 4 * 1024 * 1024 } });
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  /** Sent twice: both reach the upstream with the client's exact bytes, as a bypass with `why`. */
  async function forwardedTwice(body: string, why: RegExp): Promise<void> {
    for (let i = 0; i < 2; i++) {
      const before = upstream.bodies.length;
      const res = await post(body);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-strata-cache')).toBe('bypass');
      expect(res.headers.get('x-strata-bypass')).toMatch(why);
      expect((await res.json()).choices[0].message.content).toBe('ok');
      expect(upstream.bodies.length).toBe(before + 1);
      expect(upstream.bodies.at(-1)!.equals(Buffer.from(body))).toBe(true);
    }
  }

  it('forwards a body nested 100,000 deep as it is, uncached, saying why', async () => {
    const depth = 100_000;
    const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"deep"}],"response_format":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    await forwardedTwice(body, /nested more than 128 levels deep/);
  });

  it('forwards a 32 MB nested body as it is, uncached, saying why', async () => {
    const depth = 16_000_000;
    const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"deep"}],"response_format":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(body.length).toBeGreaterThan(32_000_000);
    await forwardedTwice(body, /larger than maxKeyedBytes|nested more than/);
  }, 60_000);

  it('forwards a body of too many small arrays as it is, uncached', async () => {
    const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"wide"}],"x":[${Array(70_000).fill('[]').join(',')}]}`;
    await forwardedTwice(body, /more than 65536 objects and arrays/);
  });

  it('forwards a body over maxKeyedBytes without keying it, however plain', async () => {
    const body = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `summarize: ${'lorem ipsum '.repeat(400_000)}` }],
    });
    await forwardedTwice(body, /larger than maxKeyedBytes \(4194304 bytes\)/);
  });

  it('refuses a `cache` field it would have to parse the body to take out', async () => {
    const body = `{"model":"gpt-4o-mini","cache":{"ttl":60},"messages":[{"role":"user","content":"x"}],"f":${'['.repeat(200)}${']'.repeat(200)}}`;
    const before = upstream.bodies.length;
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(res.headers.get('x-strata-error')).toBe('STRATA_REQUEST_CACHE_NOT_REMOVABLE');
    expect((await res.json()).error).toMatchObject({
      message: expect.stringMatching(/cache: cannot be taken out.*Cache-Control/),
      code: 'STRATA_REQUEST_CACHE_NOT_REMOVABLE',
    });
    expect(upstream.bodies.length).toBe(before);
  });

  it('still keys and caches a request within the limits', async () => {
    const body = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `within limits ${'x'.repeat(100_000)}` }],
      response_format: JSON.parse(`${'['.repeat(100)}${']'.repeat(100)}`),
    });
    const first = await post(body);
    expect(first.headers.get('x-strata-cache')).toBe('miss');
    const before = upstream.bodies.length;
    const second = await post(body);
    expect(second.headers.get('x-strata-cache')).toBe('hit');
    expect(upstream.bodies.length).toBe(before);
  });
});

describe('routing a body that is not parsed', () => {
  it('picks the upstream by the model the scan found', async () => {
    const general = await rawUpstream();
    const special = await rawUpstream();
    const gw = await startGateway({
      fake: general,
      proxy: {
        maxKeyedBytes: 1_000,
        upstreams: [
          { url: special.url, api: 'openai', match: { model: 'llama-' } },
          { url: general.url, api: 'openai' },
        ],
      },
    });
    try {
      const body = (model: string) =>
        JSON.stringify({ messages: [{ role: 'user', content: 'y'.repeat(2_000) }], model });
      for (const [model, to] of [
        ['llama-3-70b', special],
        ['gpt-4o-mini', general],
      ] as const) {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-routing-user' },
          body: body(model),
        });
        expect(res.headers.get('x-strata-bypass')).toMatch(/maxKeyedBytes/);
        expect(to.bodies.at(-1)?.toString()).toBe(body(model));
      }
      expect(special.bodies.length).toBe(1);
      expect(general.bodies.length).toBe(1);
    } finally {
      await gw.close();
      await general.close();
      await special.close();
    }
  });
});
