/**
 * The gateway's per-input embeddings cache, driven by the `openai` npm SDK pointed at it, in front
 * of a fake upstream that records the inputs of every call (test/support/fake-embeddings.ts).
 */
import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEmbeddings, startFakeEmbeddings } from '../../../test/support/fake-embeddings.js';
import { createProxy, type StrataProxy } from '../index.js';
import { inputFor, inputsOf, shareOut } from './items.js';

const MODEL = 'text-embedding-3-small';
let fake: FakeEmbeddings;
let gateway: { proxy: StrataProxy; url: string };
let original: { proxy: StrataProxy; url: string };

async function start(extra: Record<string, unknown> = {}) {
  const proxy = await createProxy(
    {
      tiers: [{ type: 'memory' }],
      proxy: { port: 0, upstreams: [{ url: fake.url, api: 'openai' }], ...extra },
    },
    { logger: { warn: () => {} } },
  );
  return { proxy, url: await proxy.listen() };
}

beforeAll(async () => {
  fake = await startFakeEmbeddings();
  gateway = await start();
  original = await start({ hitUsage: 'original' });
});
afterAll(async () => {
  await gateway?.proxy.close(500);
  await original?.proxy.close(500);
  await fake?.close();
});

const viaGateway = (apiKey = 'sk-tenant-alpha-0001', url = gateway.url) =>
  new OpenAI({ apiKey, baseURL: `${url}/v1`, maxRetries: 0 });
const direct = () => new OpenAI({ apiKey: 'sk-direct', baseURL: `${fake.url}/v1`, maxRetries: 0 });

/** `n` distinct texts, unique to this test run by `tag`. */
const texts = (tag: string, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `${tag} chunk ${from + i}: ${'lorem ipsum '.repeat((i % 7) + 1)}`);

/** The inputs the upstream saw since `mark` (an index into fake.calls). */
const sentSince = (mark: number) => fake.calls.slice(mark).flat();

type Usage = { prompt_tokens: number; total_tokens: number };
type Strata = { strata?: { cache: string; usage: Usage } };

describe('per-input caching of /v1/embeddings', () => {
  for (const encoding of ['float', 'base64', undefined] as const) {
    it(`a batch of 100 with 90 known sends exactly the 10 others upstream (encoding_format ${encoding ?? 'unset: the SDK asks for base64'})`, async () => {
      const tag = `batch-${encoding}`;
      const all = texts(tag, 100);
      const known = all.filter((_, i) => i % 10 !== 3);
      const format = encoding === undefined ? {} : { encoding_format: encoding };
      await viaGateway().embeddings.create({ model: MODEL, input: known, ...format });
      const mark = fake.calls.length;
      const { data: result, response } = await viaGateway()
        .embeddings.create({ model: MODEL, input: all, ...format })
        .withResponse();
      expect(fake.calls.length).toBe(mark + 1);
      const sent = sentSince(mark);
      expect(sent).toEqual(all.filter((_, i) => i % 10 === 3));
      expect(response.headers.get('x-strata-cache')).toBe('partial');
      expect(response.headers.get('x-strata-hits')).toBe('90');
      expect(response.headers.get('x-strata-misses')).toBe('10');
      // What the SDK parsed is what the same upstream answers the whole batch, uncached.
      const uncached = await direct().embeddings.create({ model: MODEL, input: all, ...format });
      expect(result.data).toEqual(uncached.data);
      expect(result.model).toBe(uncached.model);
      expect(result.object).toBe('list');
      // Billed: what the upstream billed for the 10; the 90 are under `strata` as hits report them.
      const billed = sent.reduce((n: number, t) => n + Math.ceil(Buffer.byteLength(String(t)) / 4), 0);
      expect(result.usage).toEqual({ prompt_tokens: billed, total_tokens: billed });
      const strata = (result as Strata).strata!;
      expect(strata.cache).toBe('partial');
      expect(strata.usage.prompt_tokens).toBe(uncached.usage.prompt_tokens - billed);
      // All known now: no upstream call at all.
      const again = await viaGateway()
        .embeddings.create({ model: MODEL, input: all, ...format })
        .withResponse();
      expect(fake.calls.length).toBe(mark + 2); // the direct call only
      expect(again.response.headers.get('x-strata-cache')).toBe('hit');
      expect(again.response.headers.get('x-strata-tier')).toBe('memory');
      expect(again.data.data).toEqual(uncached.data);
      expect(again.data.usage).toEqual({ prompt_tokens: 0, total_tokens: 0 });
      expect((again.data as Strata).strata).toEqual({
        cache: 'hit',
        usage: { prompt_tokens: uncached.usage.prompt_tokens, total_tokens: uncached.usage.total_tokens },
      });
    });
  }

  it('keys on encoding_format and dimensions: a base64 or a shorter vector is never served for another', async () => {
    const input = texts('formats', 3);
    const floats = await viaGateway().embeddings.create({ model: MODEL, input, encoding_format: 'float' });
    expect(floats.data[0]!.embedding).toEqual(fake.vector(MODEL, input[0]));
    // Absent is float: the same entries.
    let mark = fake.calls.length;
    const raw = await post(gateway.url, { model: MODEL, input });
    expect(raw.status).toBe(200);
    expect(fake.calls.length).toBe(mark);
    expect(JSON.parse(raw.body).data).toEqual(floats.data);
    mark = fake.calls.length;
    await viaGateway().embeddings.create({ model: MODEL, input, encoding_format: 'base64' });
    expect(sentSince(mark)).toEqual(input);
    mark = fake.calls.length;
    const short = await viaGateway().embeddings.create({ model: MODEL, input, dimensions: 4 });
    expect(sentSince(mark)).toEqual(input);
    expect(short.data[2]!.embedding).toEqual(fake.vector(MODEL, input[2], 4));
    const shortAgain = await viaGateway().embeddings.create({ model: MODEL, input, dimensions: 4 });
    expect(fake.calls.length).toBe(mark + 1);
    expect(shortAgain.data).toEqual(short.data);
    // Another model is another key too.
    await viaGateway().embeddings.create({
      model: 'text-embedding-3-large',
      input,
      encoding_format: 'float',
    });
    expect(fake.calls.length).toBe(mark + 2);
  });

  it('keeps tenants apart: another key re-embeds every input', async () => {
    const input = texts('tenants', 5);
    await viaGateway('sk-tenant-alpha-0001').embeddings.create({ model: MODEL, input });
    const mark = fake.calls.length;
    const other = await viaGateway('sk-tenant-beta-0002')
      .embeddings.create({ model: MODEL, input })
      .withResponse();
    expect(other.response.headers.get('x-strata-cache')).toBe('miss');
    expect(sentSince(mark)).toEqual(input);
    // `user` says who the end user is; it does not change a vector, so it is not in the key.
    await viaGateway('sk-tenant-beta-0002').embeddings.create({ model: MODEL, input, user: 'someone-else' });
    expect(fake.calls.length).toBe(mark + 1);
  });

  it('sends a duplicate input upstream once and serves it at every position', async () => {
    const [a, b] = texts('dup', 2);
    const mark = fake.calls.length;
    const { data: result, response } = await viaGateway()
      .embeddings.create({ model: MODEL, input: [a!, b!, a!, a!], encoding_format: 'float' })
      .withResponse();
    expect(sentSince(mark)).toEqual([a, b]);
    expect(response.headers.get('x-strata-cache')).toBe('miss');
    expect(result.data.map((d) => d.index)).toEqual([0, 1, 2, 3]);
    expect(result.data.map((d) => d.embedding)).toEqual([a, b, a, a].map((t) => fake.vector(MODEL, t)));
    const hit = await viaGateway().embeddings.create({
      model: MODEL,
      input: [b!, a!, b!],
      encoding_format: 'float',
    });
    expect(fake.calls.length).toBe(mark + 1);
    expect(hit.data.map((d) => d.embedding)).toEqual([b, a, b].map((t) => fake.vector(MODEL, t)));
  });

  it('passes an upstream 500 on as it came, stores nothing, and a retry embeds again', async () => {
    const input = texts('fail', 4);
    await viaGateway().embeddings.create({ model: MODEL, input: input.slice(0, 2) });
    fake.failNext(500);
    const mark = fake.calls.length;
    const error = await viaGateway()
      .embeddings.create({ model: MODEL, input })
      .catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(500);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain('fake failure 500');
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get('x-strata-cache')).toBe('miss');
    const retry = await viaGateway().embeddings.create({ model: MODEL, input }).withResponse();
    expect(sentSince(mark)).toEqual(input.slice(2));
    expect(retry.response.headers.get('x-strata-cache')).toBe('partial');
    expect(retry.data.data).toHaveLength(4);
  });

  it('caches token-array inputs, one list or many', async () => {
    const lists = [
      [1, 2, 3],
      [4, 5],
      [1, 2, 3],
      [9, 9, 9, 9],
    ];
    const mark = fake.calls.length;
    const first = await viaGateway().embeddings.create({
      model: MODEL,
      input: lists,
      encoding_format: 'float',
    });
    expect(sentSince(mark)).toEqual([lists[0], lists[1], lists[3]]);
    expect(first.data.map((d) => d.embedding)).toEqual(lists.map((l) => fake.vector(MODEL, l)));
    // One list of token ids is one input: the entry of [4, 5] above answers it.
    const one = await viaGateway().embeddings.create({
      model: MODEL,
      input: [4, 5],
      encoding_format: 'float',
    });
    expect(fake.calls.length).toBe(mark + 1);
    expect(one.data[0]!.embedding).toEqual(fake.vector(MODEL, [4, 5]));
    // A token list's cost is exact: its length.
    expect((one as Strata).strata!.usage.prompt_tokens).toBe(2);
    // A new list sent alone goes upstream in the form it came in.
    await viaGateway().embeddings.create({ model: MODEL, input: [7, 7, 7], encoding_format: 'float' });
    expect(fake.calls.at(-1)).toEqual([[7, 7, 7]]);
    expect((fake.bodies.at(-1) as { input: unknown }).input).toEqual([7, 7, 7]);
  });

  it('forwards every other field and the form of the input; a single string stays a string', async () => {
    const [x, y] = texts('fields', 2);
    await viaGateway().embeddings.create({ model: MODEL, input: x!, encoding_format: 'float', user: 'u-1' });
    expect(fake.bodies.at(-1)).toEqual({ model: MODEL, input: x, encoding_format: 'float', user: 'u-1' });
    await viaGateway().embeddings.create({
      model: MODEL,
      input: [x!, y!],
      encoding_format: 'float',
      user: 'u-2',
    });
    expect(fake.bodies.at(-1)).toEqual({ model: MODEL, input: [y], encoding_format: 'float', user: 'u-2' });
  });

  it('under hitUsage "original", usage is what the whole batch would have been billed', async () => {
    const input = texts('original', 6).map((t) => t.repeat(3));
    const client = viaGateway('sk-tenant-alpha-0001', original.url);
    await client.embeddings.create({ model: MODEL, input: input.slice(0, 3) });
    const result = await client.embeddings.create({ model: MODEL, input });
    const uncached = await direct().embeddings.create({ model: MODEL, input });
    // Deep-identical, usage included: the three known inputs' cost is their share of their
    // batch's bill, and shares of one bill add up to it exactly.
    expect(result).toEqual(uncached);
    const hit = await client.embeddings.create({ model: MODEL, input: input.slice(0, 3) });
    expect(hit).toEqual(await direct().embeddings.create({ model: MODEL, input: input.slice(0, 3) }));
  });

  it('only-if-cached: 504 when any input is missing, and no upstream call', async () => {
    const input = texts('oic', 3);
    await viaGateway().embeddings.create({
      model: MODEL,
      input: input.slice(0, 2),
      encoding_format: 'float',
    });
    const mark = fake.calls.length;
    const miss = await post(gateway.url, { model: MODEL, input }, { 'cache-control': 'only-if-cached' });
    expect(miss.status).toBe(504);
    const hit = await post(
      gateway.url,
      { model: MODEL, input: input.slice(0, 2) },
      { 'cache-control': 'only-if-cached' },
    );
    expect(hit.status).toBe(200);
    expect(fake.calls.length).toBe(mark);
  });

  it('counts hits and misses per input in the gateway metrics', async () => {
    const input = texts('metrics', 4);
    const before = await requestCounts();
    await viaGateway().embeddings.create({ model: MODEL, input: input.slice(0, 3) });
    await viaGateway().embeddings.create({ model: MODEL, input: [...input, input[3]!] });
    const after = await requestCounts();
    expect(after.hit - before.hit).toBe(3);
    expect(after.miss - before.miss).toBe(4);
    expect(after.coalesced - before.coalesced).toBe(1);
  });
});

describe('inputs the gateway refuses with a 400, before any upstream call', () => {
  const cases: [string, unknown, RegExp][] = [
    ['an object', { text: 'x' }, /input: must be a string or an array \(got an object\)/],
    ['a number', 42, /input: must be a string or an array/],
    ['null', null, /got null/],
    ['an empty array', [], /must not be an empty array/],
    [
      'a string then an object',
      ['a', { b: 1 }],
      /input\[1\] must be a string like input\[0\] \(got an object\)/,
    ],
    ['strings and token ids mixed', [1, 'a'], /input\[1\] must be a token id/],
    ['arrays nested three deep', [[[1]]], /input\[0\]\[0\] must be a token id/],
    ['a fractional token', [[1, 2.5]], /input\[0\]\[1\] must be a token id.*fractional/],
    ['a negative token', [-1], /input\[0\] must be a token id/],
    ['an empty token list', [[1], []], /input\[1\] must not be an empty array of token ids/],
    ['a batch of 2049', Array.from({ length: 2049 }, (_, i) => `t${i}`), /2049 inputs, more than the 2048/],
  ];
  for (const [name, input, message] of cases)
    it(name, async () => {
      const mark = fake.bodies.length;
      const res = await post(gateway.url, { model: MODEL, input });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.message).toMatch(message);
      expect(fake.bodies.length).toBe(mark);
    });

  it('a body nested 100,000 deep is never parsed: forwarded as it is, and the upstream answers', async () => {
    const deep = `{"model":"${MODEL}","input":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const res = await post(gateway.url, deep);
    expect(res.headers['x-strata-cache']).toBe('bypass');
    expect(res.headers['x-strata-bypass']).toMatch(/nested more than 128 levels/);
    expect(res.status).toBe(400);
    // Still serving.
    expect((await post(gateway.url, { model: MODEL, input: 'still there' })).status).toBe(200);
  });
});

describe('items', () => {
  it('shares a bill out in whole numbers that add up to it', () => {
    expect(shareOut(16, [5, 4])).toEqual([9, 7]);
    expect(shareOut(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(shareOut(0, [3, 9])).toEqual([0, 0]);
    const shares = shareOut(1_001, [7, 13, 1, 99, 5]);
    expect(shares.reduce((a, b) => a + b)).toBe(1_001);
  });

  it('sends a subset in the form the request used', () => {
    expect(inputFor(inputsOf('a').form, ['a'])).toBe('a');
    expect(inputFor(inputsOf(['a', 'b']).form, ['b'])).toEqual(['b']);
    expect(inputFor(inputsOf([1, 2]).form, [[1, 2]])).toEqual([1, 2]);
    expect(inputFor(inputsOf([[1], [2]]).form, [[2]])).toEqual([[2]]);
  });
});

async function requestCounts(): Promise<Record<'hit' | 'miss' | 'coalesced', number>> {
  const text = await gateway.proxy.monitor.metrics();
  const of = (cache: string) =>
    Number(
      new RegExp(
        `strata_proxy_requests_total\\{route="embeddings",model="${MODEL}",cache="${cache}"\\} (\\d+)`,
      ).exec(text)?.[1] ?? 0,
    );
  return { hit: of('hit'), miss: of('miss'), coalesced: of('coalesced') };
}

/** A raw POST to /v1/embeddings (what the SDK would refuse to send). */
function post(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}/v1/embeddings`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(bytes.length),
          authorization: 'Bearer sk-tenant-alpha-0001',
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}
