/**
 * The gateway driven by the `openai` npm SDK, as an application would use it with its base URL
 * pointed at the gateway; the upstream is test/support/fake-llm.ts, which counts its calls.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm } from '../../test/support/fake-llm.js';
import { everythingStored, startGateway, type TestGateway } from '../../test/support/gateway.js';
import { ManualClock } from '../core/clock.js';
import { hitObject } from './hit-usage.js';

const SYSTEM = `You are the support assistant of Acme Cloud. Answer briefly and cite the docs.
Policies: never reveal internal ticket numbers; escalate billing disputes; use metric units.
${'Reference: Acme Cloud runs in three regions with automatic failover. '.repeat(20)}`;

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
        required: ['city'],
      },
    },
  },
];

function chat(question: string, history: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = []) {
  return {
    model: 'gpt-4o-mini',
    temperature: 0,
    messages: [
      { role: 'system' as const, content: SYSTEM },
      ...history,
      { role: 'user' as const, content: question },
    ],
  };
}

let gw: TestGateway;
const clock = new ManualClock(Date.parse('2026-11-29T10:00:00Z'));
const client = (apiKey = 'sk-proj-test-alpha-0001', headers: Record<string, string> = {}) =>
  new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0, defaultHeaders: headers });

async function streamText(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  return { text, chunks };
}

beforeAll(async () => {
  gw = await startGateway({ clock, proxy: { idleTimeoutMs: 300 } });
});
afterAll(async () => {
  await gw?.close();
});

describe('chat completions through the openai SDK', () => {
  it('serves a repeat from the cache with no upstream call, and says so in headers', async () => {
    const request = chat('How do I rotate my API key? 你好 😀');
    const first = await client().chat.completions.create(request).withResponse();
    expect(first.response.headers.get('x-strata-cache')).toBe('miss');
    const calls = gw.fake.count();
    clock.advance(7_000);
    const second = await client().chat.completions.create(request).withResponse();
    expect(gw.fake.count()).toBe(calls);
    expect(second.response.headers.get('x-strata-cache')).toBe('hit');
    expect(second.response.headers.get('x-strata-tier')).toBe('memory');
    expect(second.response.headers.get('age')).toBe('7');
    // The same response, but a hit's usage bills nothing (hit-usage.ts).
    expect(second.data).toEqual(hitObject(first.data as never));
  });

  it('shares one entry between streamed and non-streamed requests, both ways', async () => {
    const streamedFirst = chat('What regions does Acme Cloud run in?');
    const live = await streamText(await client().chat.completions.create({ ...streamedFirst, stream: true }));
    const calls = gw.fake.count();
    const json = await client().chat.completions.create(streamedFirst);
    expect(json.choices[0]!.message.content).toBe(live.text);
    // The stream's usage was stored; the hit reports it under `strata`, billing nothing.
    expect(json.usage?.total_tokens).toBe(0);
    const strata = (json as never as { strata: { usage: { total_tokens: number } } }).strata;
    expect(strata.usage.total_tokens).toBeGreaterThan(0);

    const jsonFirst = chat('Which units do you use?');
    const answer = await client().chat.completions.create(jsonFirst);
    const replay = await streamText(await client().chat.completions.create({ ...jsonFirst, stream: true }));
    expect(replay.text).toBe(answer.choices[0]!.message.content);
    expect(gw.fake.count()).toBe(calls + 1);
    // The replay is the API's own chunk shape: a role chunk first, a finish reason last.
    expect(replay.chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(replay.chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('replays the usage chunk only to a client that asked for it', async () => {
    const request = chat('How long do backups last?');
    const withoutUsage = await streamText(
      await client().chat.completions.create({ ...request, stream: true }),
    );
    // The gateway asked upstream for usage to count savings; this client did not ask and does not see it.
    expect(gw.fake.calls.at(-1)!.body!.stream_options).toEqual({ include_usage: true });
    expect(withoutUsage.chunks.every((c) => c.choices.length > 0)).toBe(true);
    const replayed = await streamText(
      await client().chat.completions.create({
        ...request,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(replayed.chunks.at(-1)!.choices).toEqual([]);
    expect(replayed.chunks.at(-1)!.usage?.prompt_tokens).toBe(0);
    expect(
      (replayed.chunks.at(-1) as never as { strata: { usage: { prompt_tokens: number } } }).strata.usage
        .prompt_tokens,
    ).toBeGreaterThan(0);
    const replayedWithout = await streamText(
      await client().chat.completions.create({ ...request, stream: true }),
    );
    expect(replayedWithout.chunks.every((c) => c.choices.length > 0)).toBe(true);
  });

  it('caches tool calls, invoked and streamed, and the SDK rebuilds them from the replay', async () => {
    const request = { ...chat('What is the weather in Paris? [tool]'), tools: TOOLS };
    const first = await client().chat.completions.create(request);
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function.arguments).toBe('{"city":"Paris","unit":"celsius"}');
    const calls = gw.fake.count();
    const stream = client().chat.completions.stream({ ...request, stream: true });
    const rebuilt = await stream.finalChatCompletion();
    expect(gw.fake.count()).toBe(calls);
    expect(rebuilt.choices[0]!.message.tool_calls).toEqual(first.choices[0]!.message.tool_calls);
    expect(rebuilt.choices[0]!.finish_reason).toBe('tool_calls');
    // A streamed tool call stored from the stream is served whole to a JSON request.
    const streamedFirst = { ...chat('And the weather in Lyon? [tool]'), tools: TOOLS };
    const live = await client()
      .chat.completions.stream({ ...streamedFirst, stream: true })
      .finalChatCompletion();
    const json = await client().chat.completions.create(streamedFirst);
    expect(json.choices[0]!.message.tool_calls).toEqual(live.choices[0]!.message.tool_calls);
    expect(gw.fake.count()).toBe(calls + 1);
  });

  it('a follow-up turn with another history is another entry', async () => {
    const first = await client().chat.completions.create(
      chat('And in Europe?', [
        { role: 'user', content: 'Prices in the US?' },
        { role: 'assistant', content: '$5' },
      ]),
    );
    const other = await client().chat.completions.create(
      chat('And in Europe?', [
        { role: 'user', content: 'Latency in the US?' },
        { role: 'assistant', content: '20 ms' },
      ]),
    );
    expect(other.choices[0]!.message.content).not.toBe(first.choices[0]!.message.content);
  });

  it('never lets two API keys share an answer, and stores no key anywhere', async () => {
    const request = chat('Tenant check question');
    const a = await client('sk-proj-tenant-A-secret-111').chat.completions.create(request);
    const calls = gw.fake.count();
    const b = await client('sk-proj-tenant-B-secret-222').chat.completions.create(request);
    expect(gw.fake.count()).toBe(calls + 1);
    expect(b.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);
    // Each key is forwarded upstream as it came.
    expect(gw.fake.calls.at(-1)!.headers.authorization).toBe('Bearer sk-proj-tenant-B-secret-222');
    const stored = await everythingStored(gw.proxy);
    const metrics = await gw.proxy.monitor.metrics();
    const stats = JSON.stringify(await gw.proxy.monitor.report());
    for (const place of [stored, metrics, stats, gw.warnings.join('\n')]) {
      expect(place).not.toContain('tenant-A-secret');
      expect(place).not.toContain('tenant-B-secret');
    }
  });

  it('passes upstream errors through and stores none; the retry reaches the upstream', async () => {
    for (const status of [500, 429, 400]) {
      const request = chat(`Break please [fail:${status}]`);
      const before = gw.fake.count();
      const error = await client()
        .chat.completions.create(request)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
      expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain(`fake failure ${status}`);
      await client()
        .chat.completions.create(request)
        .catch(() => {});
      expect(gw.fake.count()).toBe(before + 2);
    }
  });

  it('only-if-cached answers 504 on a miss without calling upstream, and the hit once stored', async () => {
    const request = chat('Only from the cache, please');
    const onlyCached = client(undefined, { 'cache-control': 'only-if-cached' });
    const before = gw.fake.count();
    const miss = await onlyCached.chat.completions.create(request).catch((e: unknown) => e);
    expect((miss as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    const streamMiss = await onlyCached.chat.completions
      .create({ ...request, stream: true })
      .catch((e: unknown) => e);
    expect((streamMiss as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect(gw.fake.count()).toBe(before);
    const stored = await client().chat.completions.create(request);
    const hit = await onlyCached.chat.completions.create(request);
    expect(hit).toEqual(hitObject(stored as never));
  });

  it("honours no-cache, no-store and max-age, in headers and in LiteLLM's body field", async () => {
    const request = chat('Freshness question');
    const first = await client().chat.completions.create(request);
    const before = gw.fake.count();
    const refreshed = await client(undefined, { 'cache-control': 'no-cache' }).chat.completions.create(
      request,
    );
    expect(gw.fake.count()).toBe(before + 1);
    // no-cache stored the fresh answer: the next plain request gets it.
    expect(await client().chat.completions.create(request)).toEqual(hitObject(refreshed as never));
    expect(refreshed).not.toEqual(first);

    clock.advance(60_000);
    const stale = await client(undefined, { 'cache-control': 'max-age=30' })
      .chat.completions.create(request)
      .withResponse();
    expect(stale.response.headers.get('x-strata-cache')).toBe('miss');
    const fresh = await client(undefined, { 'cache-control': 'max-age=30' })
      .chat.completions.create(request)
      .withResponse();
    expect(fresh.response.headers.get('x-strata-cache')).toBe('hit');

    const unstored = chat('Do not keep this');
    await client(undefined, { 'cache-control': 'no-store' }).chat.completions.create(unstored);
    const afterNoStore = gw.fake.count();
    await client().chat.completions.create(unstored);
    expect(gw.fake.count()).toBe(afterNoStore + 1);

    // LiteLLM's `cache` body field: honoured, and never forwarded upstream.
    const bodyControlled = { ...chat('Body field question'), cache: { 'no-store': true } } as never;
    await client().chat.completions.create(bodyControlled);
    expect(gw.fake.calls.at(-1)!.body).not.toHaveProperty('cache');
    const n = gw.fake.count();
    await client().chat.completions.create(chat('Body field question'));
    expect(gw.fake.count()).toBe(n + 1);
    const bad = await client()
      .chat.completions.create({ ...chat('x'), cache: { 'no-cahce': true } } as never)
      .catch((e: unknown) => e);
    expect((bad as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
    expect((bad as Error).message).toContain('cache.no-cahce');
    // The SDK reads the Strata error code from the body, and the header carries it for any client.
    expect((bad as InstanceType<typeof OpenAI.APIError>).code).toBe('STRATA_REQUEST_CACHE_FIELD');
    expect((bad as InstanceType<typeof OpenAI.APIError>).headers?.get('x-strata-error')).toBe(
      'STRATA_REQUEST_CACHE_FIELD',
    );
  });

  it("forwards the client's bytes as sent: numbers are not re-serialized (a seed beyond 2^53, 1.0)", async () => {
    const body =
      '{"model":"gpt-4o-mini","seed":12345678901234567891,"temperature":1.0,"messages":[{"role":"user","content":"seeded"}]}';
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-raw-bytes' },
      body,
    });
    expect(res.status).toBe(200);
    expect(gw.fake.calls.at(-1)!.headers['content-length']).toBe(String(body.length));
  });

  it('does not cache a request whose numbers a double cannot hold, and forwards it unchanged', async () => {
    const send = (seed: string) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-seeds' },
        body: `{"model":"gpt-4o-mini","seed":${seed},"messages":[{"role":"user","content":"seeded twice"}]}`,
      });
    const before = gw.fake.count();
    const first = await send('9007199254740993');
    const second = await send('9007199254740992');
    expect(first.headers.get('x-strata-cache')).toBe('bypass');
    expect(second.headers.get('x-strata-cache')).toBe('bypass');
    expect(gw.fake.count()).toBe(before + 2);
  });

  it('passes a body nested too deeply to key through, uncached, instead of failing', async () => {
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-deep' },
      body: `{"model":"gpt-4o-mini","response_format":${deep},"messages":[{"role":"user","content":"deep"}]}`,
    });
    expect(res.headers.get('x-strata-cache')).toBe('bypass');
    expect(res.status).not.toBe(500);
  });

  it("keeps a namespace given in the body inside the caller's tenant", async () => {
    const request = chat('Namespaced question');
    await client().chat.completions.create({ ...request, cache: { namespace: 'team-a' } } as never);
    const n = gw.fake.count();
    await client().chat.completions.create({ ...request, cache: { namespace: 'team-b' } } as never);
    expect(gw.fake.count()).toBe(n + 1);
    await client().chat.completions.create({ ...request, cache: { namespace: 'team-a' } } as never);
    expect(gw.fake.count()).toBe(n + 1);
    await client('sk-someone-else-000000').chat.completions.create({
      ...request,
      cache: { namespace: 'team-a' },
    } as never);
    expect(gw.fake.count()).toBe(n + 2);
  });
});

describe('concurrency', () => {
  it('50 identical concurrent streams make one upstream call and every client gets the whole stream', async () => {
    gw.fake.pieceDelayMs = 40;
    try {
      const request = { ...chat('Fifty at once'), stream: true as const };
      const before = gw.fake.count();
      const results = await Promise.all(
        Array.from({ length: 50 }, async () => streamText(await client().chat.completions.create(request))),
      );
      expect(gw.fake.count()).toBe(before + 1);
      const expected = results[0]!.text;
      expect(expected).toMatch(/^Answer #\d+ to: Fifty at once$/);
      for (const r of results) expect(r.text).toBe(expected);
    } finally {
      gw.fake.pieceDelayMs = 5;
    }
  });

  it('a follower that joins mid-stream gets the stream from its start, live, before the upstream finishes', async () => {
    gw.fake.pieceDelayMs = 80;
    try {
      const request = { ...chat('Join me halfway'), stream: true as const };
      const before = gw.fake.count();
      const leader = await client().chat.completions.create(request);
      const iterator = leader[Symbol.asyncIterator]();
      let leaderText = (await iterator.next()).value!.choices[0]!.delta.content ?? '';
      let followerFirstAt = 0;
      let leaderEndAt = 0;
      const follower = (async () => {
        let text = '';
        for await (const chunk of await client().chat.completions.create(request)) {
          followerFirstAt ||= Date.now();
          text += chunk.choices[0]?.delta?.content ?? '';
        }
        return text;
      })();
      for (let next = await iterator.next(); !next.done; next = await iterator.next())
        leaderText += next.value.choices[0]?.delta?.content ?? '';
      leaderEndAt = Date.now();
      const followerText = await follower;
      expect(gw.fake.count()).toBe(before + 1);
      expect(followerText).toBe(leaderText);
      expect(followerFirstAt).toBeGreaterThan(0);
      expect(followerFirstAt).toBeLessThan(leaderEndAt);
    } finally {
      gw.fake.pieceDelayMs = 5;
    }
  });

  it('an upstream error reaches every identical request that waited for it, as a miss, and is not stored', async () => {
    const request = chat('Concurrent failure [slow:150][fail:503]');
    const before = gw.fake.count();
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        client()
          .chat.completions.create(request)
          .withResponse()
          .catch((e: unknown) => e as InstanceType<typeof OpenAI.APIError>),
      ),
    );
    expect(gw.fake.count()).toBe(before + 1);
    for (const a of answers) {
      expect((a as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
      expect((a as InstanceType<typeof OpenAI.APIError>).headers?.get('x-strata-cache')).toBe('miss');
    }
    await client()
      .chat.completions.create(request)
      .catch(() => {});
    expect(gw.fake.count()).toBe(before + 2);
  });

  it('streaming and JSON clients of one key share one upstream call', async () => {
    gw.fake.pieceDelayMs = 30;
    try {
      const request = chat('Mixed followers');
      const before = gw.fake.count();
      const [streamed, json] = await Promise.all([
        client()
          .chat.completions.create({ ...request, stream: true })
          .then(streamText),
        new Promise((r) => setTimeout(r, 10)).then(() => client().chat.completions.create(request)),
      ]);
      expect(gw.fake.count()).toBe(before + 1);
      expect(json.choices[0]!.message.content).toBe(streamed.text);
    } finally {
      gw.fake.pieceDelayMs = 5;
    }
  });
});

describe('failures', () => {
  it('a stream cut off mid-way reaches the client as an error and is not stored', async () => {
    for (const how of ['[drop]', '[stall]']) {
      const request = { ...chat(`Cut me off ${how}`), stream: true as const };
      const before = gw.fake.count();
      const error = await client()
        .chat.completions.create(request)
        .then(streamText)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error, how).toBeInstanceOf(Error);
      await client()
        .chat.completions.create({ ...request, stream: false })
        .catch(() => {});
      expect(gw.fake.count(), how).toBe(before + 2);
    }
  });

  it('an error event mid-stream reaches the client and nothing is stored', async () => {
    const request = { ...chat('Error event [error-event]'), stream: true as const };
    const before = gw.fake.count();
    const error = await client()
      .chat.completions.create(request)
      .then(streamText)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    await client()
      .chat.completions.create(request)
      .then(streamText)
      .catch(() => {});
    expect(gw.fake.count()).toBe(before + 2);
  });

  it('a client that disconnects mid-stream stores nothing', async () => {
    gw.fake.pieceDelayMs = 50;
    try {
      const request = { ...chat('I will hang up'), stream: true as const };
      const before = gw.fake.count();
      const abort = new AbortController();
      const stream = await client().chat.completions.create(request, { signal: abort.signal });
      let received = 0;
      await (async () => {
        for await (const _ of stream) {
          received++;
          abort.abort();
        }
      })().catch(() => {});
      expect(received).toBe(1);
      await new Promise((r) => setTimeout(r, 300));
      await client().chat.completions.create({ ...request, stream: false });
      expect(gw.fake.count()).toBe(before + 2);
    } finally {
      gw.fake.pieceDelayMs = 5;
    }
  });

  it('a dead upstream is a 502 with an error body the SDK reads; a slow one a 504', async () => {
    const dead = await startFakeLlm();
    await dead.close();
    const down = await startGateway({ fake: dead, proxy: { timeoutMs: 500 } });
    try {
      const c = new OpenAI({ apiKey: 'sk-x', baseURL: `${down.url}/v1`, maxRetries: 0 });
      const error = await c.chat.completions.create(chat('anyone?')).catch((e: unknown) => e);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((error as Error).message).toContain('could not be reached');
    } finally {
      await down.close();
    }
    const impatient = await startGateway({ fake: gw.fake, proxy: { timeoutMs: 300 } });
    try {
      const c = new OpenAI({ apiKey: 'sk-x', baseURL: `${impatient.url}/v1`, maxRetries: 0 });
      const slow = await c.chat.completions.create(chat('Too slow [slow:1000]')).catch((e: unknown) => e);
      expect((slow as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
      expect((slow as Error).message).toContain('did not answer in time');
    } finally {
      await impatient.close();
    }
  });

  it('an unreachable tier is a miss: the gateway still answers from the upstream', async () => {
    const offline = await startGateway({
      fake: gw.fake,
      tiers: [{ type: 'redis', url: 'redis://127.0.0.1:1', timeoutMs: 200 }],
    });
    try {
      const c = new OpenAI({ apiKey: 'sk-x', baseURL: `${offline.url}/v1`, maxRetries: 0 });
      const answer = await c.chat.completions.create(chat('Tier down question')).withResponse();
      expect(answer.data.choices[0]!.message.content).toContain('Tier down question');
      expect(answer.response.headers.get('x-strata-cache')).toBe('miss');
    } finally {
      await offline.close();
    }
  });
});

describe('other endpoints', () => {
  it('caches completions, embeddings and responses (invoked and streamed)', async () => {
    const before = gw.fake.count();
    const completion = { model: 'gpt-3.5-turbo-instruct', prompt: 'Say hi', max_tokens: 5 };
    const c1 = await client().completions.create(completion);
    expect(await client().completions.create(completion)).toEqual(hitObject(c1 as never));
    let streamed = '';
    for await (const chunk of await client().completions.create({ ...completion, stream: true }))
      streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(c1.choices[0]!.text);

    const embedding = { model: 'text-embedding-3-small', input: ['alpha', 'beta'] };
    const e1 = await client().embeddings.create(embedding);
    expect(e1.data).toHaveLength(2);
    expect(await client().embeddings.create(embedding)).toEqual(hitObject(e1 as never));

    const r1 = await client().responses.create({
      model: 'gpt-4o-mini',
      instructions: SYSTEM,
      input: 'Summarize the policy',
    });
    expect(r1.output_text).toContain('Summarize the policy');
    const replay = await client()
      .responses.stream({ model: 'gpt-4o-mini', instructions: SYSTEM, input: 'Summarize the policy' })
      .finalResponse();
    expect(replay.output_text).toBe(r1.output_text);
    const fnTools = [
      {
        type: 'function' as const,
        name: 'get_weather',
        parameters: { type: 'object', properties: {} },
        strict: false,
      },
    ];
    const fn = await client().responses.create({
      model: 'gpt-4o-mini',
      input: 'Weather? [tool]',
      tools: fnTools,
    });
    const fnReplay = await client()
      .responses.stream({ model: 'gpt-4o-mini', input: 'Weather? [tool]', tools: fnTools })
      .finalResponse();
    // The SDK's stream helper adds its own `parsed_arguments`; everything the API sent is the same.
    expect(fnReplay.output[0]).toMatchObject(fn.output[0]!);
    expect(gw.fake.count()).toBe(before + 4);
  });

  it('does not cache a Responses request bound to a server-side conversation', async () => {
    const request = { model: 'gpt-4o-mini', input: 'Continue', conversation: 'conv_123' };
    const first = await client().responses.create(request).withResponse();
    expect(first.response.headers.get('x-strata-cache')).toBe('bypass');
    const n = gw.fake.count();
    await client().responses.create(request);
    expect(gw.fake.count()).toBe(n + 1);
  });

  it('passes other paths through untouched and uncached', async () => {
    const n = gw.fake.count('/v1/models');
    const models = await client().models.list();
    expect(models.data[0]!.id).toBe('gpt-4o-mini');
    await client().models.list();
    expect(gw.fake.count('/v1/models')).toBe(n + 2);
  });
});

describe('limits and access', () => {
  it('refuses a body over maxRequestBytes with 413', async () => {
    const small = await startGateway({ fake: gw.fake, proxy: { maxRequestBytes: 1_000 } });
    try {
      const c = new OpenAI({ apiKey: 'sk-x', baseURL: `${small.url}/v1`, maxRetries: 0 });
      const error = await c.chat.completions.create(chat('x'.repeat(2_000))).catch((e: unknown) => e);
      expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
      expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('STRATA_REQUEST_TOO_LARGE');
    } finally {
      await small.close();
    }
  });

  it('with client tokens, refuses callers without one and sends its own upstream key', async () => {
    const guarded = await startGateway({
      fake: gw.fake,
      proxy: {
        clientTokens: ['strata-client-token-0123456789'],
        upstreams: [{ url: gw.fake.url, api: 'openai', apiKey: 'sk-gateway-own-key' }],
      },
    });
    try {
      const outsider = new OpenAI({ apiKey: 'sk-guess', baseURL: `${guarded.url}/v1`, maxRetries: 0 });
      const denied = await outsider.chat.completions.create(chat('let me in')).catch((e: unknown) => e);
      expect((denied as InstanceType<typeof OpenAI.APIError>).status).toBe(401);
      const member = new OpenAI({
        apiKey: 'strata-client-token-0123456789',
        baseURL: `${guarded.url}/v1`,
        maxRetries: 0,
      });
      await member.chat.completions.create(chat('member question'));
      expect(gw.fake.calls.at(-1)!.headers.authorization).toBe('Bearer sk-gateway-own-key');
    } finally {
      await guarded.close();
    }
  });
});

describe('observability', () => {
  it("labels gateway metrics by route and model, and counts savings from the responses' usage", async () => {
    const metrics = await gw.proxy.monitor.metrics();
    expect(metrics).toMatch(
      /strata_proxy_requests_total\{route="chat.completions",model="gpt-4o-mini",cache="hit"\} \d+/,
    );
    expect(metrics).toMatch(
      /strata_proxy_requests_total\{route="embeddings",model="text-embedding-3-small",cache="hit"\} \d+/,
    );
    expect(metrics).toMatch(
      /strata_proxy_saved_tokens_total\{route="chat.completions",model="gpt-4o-mini",kind="input"\} [1-9]/,
    );
    // A model name no upstream answered for is never a label: a client cannot mint series (or leak a pasted key).
    await client()
      .chat.completions.create({ ...chat('x [fail:404]'), model: 'sk-proj-pasted-by-mistake' })
      .catch(() => {});
    expect(await gw.proxy.monitor.metrics()).not.toContain('sk-proj-pasted');
    const { savings } = await gw.proxy.monitor.report();
    const saved = savings.models.find((m) => m.model === 'gpt-4o-mini');
    expect(saved?.inputTokens).toBeGreaterThan(0);
  });
});
