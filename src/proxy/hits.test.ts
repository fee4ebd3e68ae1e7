/**
 * What a hit looks like: usage that bills nothing (every endpoint's shape, JSON and replayed
 * streams, through the real SDKs' stream helpers), `store: true` requests that never get an id
 * the upstream did not store, and only-if-cached followers of a failing call. The upstream here
 * is a small one of this file's own that answers with every usage field the APIs report, and can
 * hold its answers until a test releases them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.js';
import { everythingStored, startGateway, type TestGateway } from '../../test/support/gateway.js';
import { Flight } from './flight.js';

type Json = Record<string, unknown>;

const CHAT_USAGE = {
  prompt_tokens: 120,
  completion_tokens: 30,
  total_tokens: 150,
  prompt_tokens_details: { cached_tokens: 64, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 12,
    audio_tokens: 0,
    accepted_prediction_tokens: 1,
    rejected_prediction_tokens: 2,
  },
};
const COMPLETIONS_USAGE = { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 };
const EMBEDDINGS_USAGE = { prompt_tokens: 8, total_tokens: 8 };
const RESPONSES_USAGE = {
  input_tokens: 100,
  input_tokens_details: { cached_tokens: 40 },
  output_tokens: 50,
  output_tokens_details: { reasoning_tokens: 20 },
  total_tokens: 150,
};
const MESSAGES_USAGE = {
  input_tokens: 25,
  output_tokens: 10,
  cache_creation_input_tokens: 5,
  cache_read_input_tokens: 100,
  cache_creation: { ephemeral_5m_input_tokens: 5, ephemeral_1h_input_tokens: 0 },
  server_tool_use: { web_search_requests: 1, web_fetch_requests: 2 },
  service_tier: 'standard',
};

/** The same shapes as a hit reports them, written out (not computed) so the test checks the rule. */
const ZERO = {
  chat: {
    prompt_tokens: 0,
    completion_tokens: 0,
    total_tokens: 0,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  },
  completions: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  embeddings: { prompt_tokens: 0, total_tokens: 0 },
  responses: {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  },
  messages: {
    input_tokens: 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
    service_tier: 'standard',
  },
};

interface Upstream {
  readonly url: string;
  readonly calls: Json[];
  /** Answers wait until the returned function is called; then with this status (200: the answer). */
  hold(status?: number): () => void;
  close(): Promise<void>;
}

/** An upstream whose answers carry every usage field; each call's answer has its own id. */
async function startUpstream(): Promise<Upstream> {
  const calls: Json[] = [];
  let gate: { open: Promise<void>; status: number } | undefined;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
    calls.push(body);
    const n = calls.length;
    const held = gate;
    if (held) await held.open;
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (held && held.status !== 200)
      return send(held.status, { error: { message: `held failure ${held.status}`, type: 'server_error' } });
    const created = 1_700_000_000 + n;
    switch (req.url) {
      case '/v1/chat/completions':
        return send(200, {
          id: `chatcmpl-${n}`,
          object: 'chat.completion',
          created,
          model: body.model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: `chat answer ${n}`, refusal: null },
              logprobs: null,
              finish_reason: 'stop',
            },
          ],
          usage: CHAT_USAGE,
          system_fingerprint: 'fp_up',
        });
      case '/v1/completions':
        return send(200, {
          id: `cmpl-${n}`,
          object: 'text_completion',
          created,
          model: body.model,
          choices: [{ text: `completion ${n}`, index: 0, logprobs: null, finish_reason: 'stop' }],
          usage: COMPLETIONS_USAGE,
        });
      case '/v1/embeddings':
        return send(200, {
          object: 'list',
          data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }],
          model: body.model,
          usage: EMBEDDINGS_USAGE,
        });
      case '/v1/responses': {
        const response = {
          id: `resp_${n}`,
          object: 'response',
          created_at: created,
          status: 'completed',
          model: body.model,
          output: [
            {
              type: 'message',
              id: `msg_${n}`,
              status: 'completed',
              role: 'assistant',
              content: [{ type: 'output_text', text: `response ${n}`, annotations: [] }],
            },
          ],
          usage: RESPONSES_USAGE,
        };
        if (body.stream !== true) return send(200, response);
        // Enough of a stream for the gateway (it stores `response.completed`) and the SDK.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const pending = { ...response, status: 'in_progress', output: [], usage: null };
        res.write(
          `event: response.created\ndata: ${JSON.stringify({ type: 'response.created', sequence_number: 0, response: pending })}\n\n`,
        );
        res.end(
          `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', sequence_number: 1, response })}\n\n`,
        );
        return;
      }
      case '/v1/messages':
        return send(200, {
          id: `msg_${n}`,
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: [{ type: 'text', text: `message ${n}` }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: MESSAGES_USAGE,
        });
      default:
        return send(404, { error: { message: 'no route' } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    hold(status = 200) {
      let release!: () => void;
      const open = new Promise<void>((resolve) => {
        release = resolve;
      });
      gate = { open, status };
      return () => {
        gate = undefined;
        release();
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function gatewayOn(upstream: Upstream, proxy: Json = {}): Promise<TestGateway> {
  return startGateway({
    proxy: {
      upstreams: [
        { url: upstream.url, api: 'openai' },
        { url: upstream.url, api: 'anthropic' },
      ],
      ...proxy,
    },
  });
}

async function post(
  gw: TestGateway,
  path: string,
  body: Json,
  headers: Record<string, string> = {},
): Promise<{ status: number; cache: string | null; body: Json }> {
  // The caller's key as the OpenAI SDK sends it, unless the test gives one in another place.
  const key: Record<string, string> = headers['x-api-key'] ? {} : { authorization: 'Bearer sk-hits-user' };
  const res = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...key, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  // A stream's events are not one JSON body; the tests that stream read them through an SDK.
  const json = (
    res.headers.get('content-type')?.startsWith('text/event-stream') ? {} : JSON.parse(text)
  ) as Json;
  return { status: res.status, cache: res.headers.get('x-strata-cache'), body: json };
}

const REQUESTS: Array<{ name: keyof typeof ZERO; path: string; body: Json; usage: Json }> = [
  {
    name: 'chat',
    path: '/v1/chat/completions',
    body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'usage?' }] },
    usage: CHAT_USAGE,
  },
  {
    name: 'completions',
    path: '/v1/completions',
    body: { model: 'gpt-3.5-turbo-instruct', prompt: 'usage?' },
    usage: COMPLETIONS_USAGE,
  },
  {
    name: 'embeddings',
    path: '/v1/embeddings',
    body: { model: 'text-embedding-3-small', input: 'usage?' },
    usage: EMBEDDINGS_USAGE,
  },
  {
    name: 'responses',
    path: '/v1/responses',
    body: { model: 'gpt-4o', input: 'usage?' },
    usage: RESPONSES_USAGE,
  },
  {
    name: 'messages',
    path: '/v1/messages',
    body: { model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'usage?' }] },
    usage: MESSAGES_USAGE,
  },
];

/**
 * The Anthropic SDK's headers: its version is part of the key, and its key header part of the
 * tenant (the same key in `Authorization` is another caller).
 */
const ANTHROPIC_SDK = { 'anthropic-version': '2023-06-01', 'x-api-key': 'sk-hits-user' };

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

const open: TestGateway[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const gw of open.splice(0)) await gw.close();
});
async function gateway(proxy: Json = {}, on: Upstream = upstream): Promise<TestGateway> {
  const gw = await gatewayOn(on, proxy);
  open.push(gw);
  return gw;
}

describe('a hit bills nothing', () => {
  it("in every endpoint's JSON usage shape; the stored counts are under `strata`, id and created as stored", async () => {
    const gw = await gateway();
    for (const r of REQUESTS) {
      const miss = await post(gw, r.path, r.body);
      expect(miss.cache, r.name).toBe('miss');
      expect(miss.body.usage, r.name).toEqual(r.usage);
      expect(miss.body).not.toHaveProperty('strata');
      const hit = await post(gw, r.path, r.body);
      expect(hit.cache, r.name).toBe('hit');
      expect(hit.body, r.name).toEqual({
        ...miss.body,
        usage: ZERO[r.name],
        strata: { cache: 'hit', usage: r.usage },
      });
    }
  });

  it("in replayed streams, as the SDKs' stream helpers assemble them", async () => {
    const gw = await gateway();
    const openai = new OpenAI({ apiKey: 'sk-hits-user', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const anthropic = new Anthropic({ apiKey: 'sk-hits-user', baseURL: gw.url, maxRetries: 0 });
    const [chat, completions, , responses, messages] = REQUESTS.map((r) => r.body) as [
      Json,
      Json,
      Json,
      Json,
      Json,
    ];
    const stored: Json[] = [];
    for (const r of REQUESTS)
      stored.push((await post(gw, r.path, r.body, r.name === 'messages' ? ANTHROPIC_SDK : {})).body);
    const calls = upstream.calls.length;

    const chatFinal = await openai.chat.completions
      .stream({
        ...(chat as never as OpenAI.ChatCompletionCreateParamsStreaming),
        stream_options: { include_usage: true },
      })
      .finalChatCompletion();
    expect(chatFinal.usage).toEqual(ZERO.chat);
    expect((chatFinal as never as Json).strata).toEqual({ cache: 'hit', usage: CHAT_USAGE });

    const chunks: OpenAI.Completion[] = [];
    const completionStream = await openai.completions.create({
      ...(completions as never as OpenAI.CompletionCreateParamsNonStreaming),
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of completionStream) chunks.push(chunk);
    expect(chunks.at(-1)!.usage).toEqual(ZERO.completions);
    expect((chunks.at(-1) as never as Json).strata).toEqual({ cache: 'hit', usage: COMPLETIONS_USAGE });

    const response = await openai.responses
      .stream(responses as never as OpenAI.Responses.ResponseCreateParamsStreaming)
      .finalResponse();
    expect(response.id).toBe(stored[3]!.id);
    expect(response.usage).toEqual(ZERO.responses);
    expect((response as never as Json).strata).toEqual({ cache: 'hit', usage: RESPONSES_USAGE });

    const message = await anthropic.messages
      .stream(messages as never as Anthropic.MessageCreateParamsNonStreaming)
      .finalMessage();
    expect(message.content).toEqual(stored[4]!.content);
    expect(message.usage).toEqual(ZERO.messages);
    // The whole stored usage, though message_start (where the SDK takes it from) has no output yet.
    expect((message as never as Json).strata).toEqual({ cache: 'hit', usage: MESSAGES_USAGE });
    expect(upstream.calls.length).toBe(calls);
  });

  it('savings still count what the stored answer used', async () => {
    const gw = await gateway();
    const [chat] = REQUESTS;
    await post(gw, chat!.path, chat!.body);
    await post(gw, chat!.path, chat!.body);
    await post(gw, chat!.path, { ...chat!.body, stream: true });
    const metrics = await gw.proxy.monitor.metrics();
    expect(metrics).toContain(
      'strata_proxy_saved_tokens_total{route="chat.completions",model="gpt-4o",kind="input"} 240',
    );
    expect(metrics).toContain(
      'strata_proxy_saved_tokens_total{route="chat.completions",model="gpt-4o",kind="output"} 60',
    );
    const { savings } = await gw.proxy.monitor.report();
    expect(savings.models.find((m) => m.model === 'gpt-4o')).toMatchObject({
      inputTokens: 240,
      outputTokens: 60,
    });
  });

  it('hitUsage: "original" sends a hit exactly as stored', async () => {
    const gw = await gateway({ hitUsage: 'original' });
    for (const r of REQUESTS) {
      const miss = await post(gw, r.path, r.body);
      const hit = await post(gw, r.path, r.body);
      expect(hit.cache).toBe('hit');
      expect(hit.body, r.name).toEqual(miss.body);
    }
  });

  it('coalesced followers bill nothing: n identical requests report one call’s usage, JSON or streamed', async () => {
    const fake: FakeLlm = await startFakeLlm({ pieceDelayMs: 40 });
    const gw = await startGateway({ fake });
    open.push(gw);
    try {
      const openai = new OpenAI({ apiKey: 'sk-coalesced', baseURL: `${gw.url}/v1`, maxRetries: 0 });
      const ask = (content: string) => ({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user' as const, content }],
      });
      const json = await Promise.all(
        Array.from({ length: 10 }, () => openai.chat.completions.create(ask('ten at once [slow:300]'))),
      );
      expect(fake.count()).toBe(1);
      expect(json.filter((c) => c.usage!.total_tokens > 0)).toHaveLength(1);

      const streams = await Promise.all(
        Array.from({ length: 10 }, () =>
          openai.chat.completions
            .stream({ ...ask('ten streams at once'), stream_options: { include_usage: true } })
            .finalChatCompletion(),
        ),
      );
      expect(fake.count()).toBe(2);
      for (const s of streams)
        expect(s.choices[0]!.message.content).toBe(streams[0]!.choices[0]!.message.content);
      const billed = streams.filter((s) => s.usage!.total_tokens > 0);
      expect(billed).toHaveLength(1);
      for (const s of streams.filter((x) => x !== billed[0]))
        expect((s as never as Json).strata).toEqual({ cache: 'hit', usage: billed[0]!.usage });
    } finally {
      await fake.close();
    }
  });
});

describe('store: true is never answered with an id the upstream did not store', () => {
  const chat = (store?: boolean) => ({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'keep this one' }],
    ...(store === undefined ? {} : { store }),
  });

  it('chat: store:false, then store:true goes upstream and refreshes the entry', async () => {
    const gw = await gateway();
    const before = upstream.calls.length;
    const unstored = await post(gw, '/v1/chat/completions', chat(false));
    const stored = await post(gw, '/v1/chat/completions', chat(true));
    expect(stored.cache).toBe('miss');
    expect(upstream.calls.length).toBe(before + 2);
    expect(stored.body.id).not.toBe(unstored.body.id);
    // The refreshed entry was stored upstream: both kinds of request now get it, with its id.
    const again = await post(gw, '/v1/chat/completions', chat(true));
    const plain = await post(gw, '/v1/chat/completions', chat());
    expect([again.cache, plain.cache]).toEqual(['hit', 'hit']);
    expect([again.body.id, plain.body.id]).toEqual([stored.body.id, stored.body.id]);
    expect(upstream.calls.length).toBe(before + 2);
  });

  it('Responses, where store defaults to true: only an explicit store:false entry is refused, streamed too', async () => {
    const gw = await gateway();
    const openai = new OpenAI({ apiKey: 'sk-hits-user', baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const request = { model: 'gpt-4o', input: 'remember me' };
    const before = upstream.calls.length;
    const unstored = await post(gw, '/v1/responses', { ...request, store: false });
    // A store:false request may take it…
    expect((await post(gw, '/v1/responses', { ...request, store: false })).cache).toBe('hit');
    // …a default one (store: true) may not, streamed or not.
    const streamed = await openai.responses.stream(request).finalResponse();
    expect(upstream.calls.length).toBe(before + 2);
    expect(streamed.id).not.toBe(unstored.body.id);
    const json = await post(gw, '/v1/responses', request);
    expect(json.cache).toBe('hit');
    expect(json.body.id).toBe(streamed.id);
  });

  it('shared tenancy: the answer is stored for the caller whose key stored it, unless the gateway sends its own key', async () => {
    const gw = await gateway({ tenant: 'shared' });
    const alice = { authorization: 'Bearer sk-alice' };
    const bob = { authorization: 'Bearer sk-bob' };
    const before = upstream.calls.length;
    await post(gw, '/v1/chat/completions', chat(true), alice);
    expect((await post(gw, '/v1/chat/completions', chat(false), bob)).cache).toBe('hit');
    // Bob's key cannot read Alice's stored completion back: his store:true goes upstream.
    expect((await post(gw, '/v1/chat/completions', chat(true), bob)).cache).toBe('miss');
    expect(upstream.calls.length).toBe(before + 2);

    const own = await gateway({
      tenant: 'shared',
      upstreams: [{ url: upstream.url, api: 'openai', apiKey: 'sk-gateway-own' }],
    });
    await post(own, '/v1/chat/completions', chat(true), alice);
    expect((await post(own, '/v1/chat/completions', chat(true), bob)).cache).toBe('hit');
  });

  it('a store:true request does not follow a leader that did not ask to store; the other way round it does', async () => {
    const gw = await gateway();
    const attached = vi.spyOn(Flight.prototype, 'attach');
    const before = upstream.calls.length;
    let release = upstream.hold();
    const leader = post(gw, '/v1/chat/completions', chat(false));
    await vi.waitFor(() => expect(upstream.calls.length).toBe(before + 1));
    const follower = post(gw, '/v1/chat/completions', chat(true));
    // Arrived while the leader waits (a flight, its own or the leader's, has it attached)…
    await vi.waitFor(() => expect(attached.mock.calls.length).toBe(2));
    // …it does not take the leader's answer: it looks the key up (waiting for the leader's entry,
    // which it refuses) and calls the upstream itself.
    release();
    const [l, f] = await Promise.all([leader, follower]);
    expect(f.cache).toBe('miss');
    expect(f.body.id).not.toBe(l.body.id);
    expect(upstream.calls.length).toBe(before + 2);

    const other = { ...chat(true), messages: [{ role: 'user', content: 'store first, then share' }] };
    const attachedBefore = attached.mock.calls.length;
    release = upstream.hold();
    const storing = post(gw, '/v1/chat/completions', other);
    await vi.waitFor(() => expect(upstream.calls.length).toBe(before + 3));
    // The store:false request joins the flight of the store:true one (it attached to it).
    const plain = post(gw, '/v1/chat/completions', { ...other, store: false });
    await vi.waitFor(() => expect(attached.mock.calls.length).toBe(attachedBefore + 2));
    release();
    const [s, p] = await Promise.all([storing, plain]);
    expect(p.body.choices).toEqual(s.body.choices);
    expect(upstream.calls.length).toBe(before + 3);
  });
});

describe('only-if-cached', () => {
  it('following a call that fails is a 504 "not in the cache", not the upstream’s error', async () => {
    const gw = await gateway();
    const attached = vi.spyOn(Flight.prototype, 'attach');
    const request = { model: 'gpt-4o', messages: [{ role: 'user', content: 'about to fail' }] };
    const before = upstream.calls.length;
    const release = upstream.hold(503);
    const leader = post(gw, '/v1/chat/completions', request);
    await vi.waitFor(() => expect(upstream.calls.length).toBe(before + 1));
    const follower = post(gw, '/v1/chat/completions', request, { 'cache-control': 'only-if-cached' });
    // The same caller's follower is waiting on the leader's flight (it attached to it).
    await vi.waitFor(() => expect(attached.mock.calls.length).toBe(2));
    release();
    const [l, f] = await Promise.all([leader, follower]);
    expect(l.status).toBe(503);
    expect(f.status).toBe(504);
    expect(JSON.stringify(f.body)).toContain('not in the cache');
    expect(upstream.calls.length).toBe(before + 1);
  });
});

describe('a Responses hit echoes its own request', () => {
  it("carries this request's user, metadata and store, never the first caller's", async () => {
    const gw = await startGateway({ proxy: { hitUsage: 'original' } });
    try {
      const client = new OpenAI({ apiKey: 'sk-echo-caller', baseURL: `${gw.url}/v1`, maxRetries: 0 });
      const base = { model: 'gpt-4o-mini', input: 'Which plan is cheapest?' };
      const first = await client.responses
        .create({ ...base, user: 'alice@example.com', metadata: { ticket: 'T-1' } })
        .withResponse();
      expect(first.response.headers.get('x-strata-cache')).toBe('miss');
      expect(first.data).toMatchObject({
        user: 'alice@example.com',
        metadata: { ticket: 'T-1' },
        store: true,
      });
      // store: false may take an entry the upstream stored (the reverse is refused: see above).
      const second = await client.responses
        .create({ ...base, metadata: { ticket: 'T-2' }, store: false })
        .withResponse();
      expect(second.response.headers.get('x-strata-cache')).toBe('hit');
      expect(second.data).toMatchObject({ user: null, metadata: { ticket: 'T-2' }, store: false });
      expect(second.data.output_text).toBe(first.data.output_text);
      // Two streams at once: the second follows the first's upstream call, and still gets its own.
      const stream = (user: string) =>
        fetch(`${gw.url}/v1/responses`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-echo-caller' },
          body: JSON.stringify({ ...base, input: 'Slow one [slow:300]', stream: true, user }),
        }).then(async (r) => ({ cache: r.headers.get('x-strata-cache'), text: await r.text() }));
      const [carol, dave] = await Promise.all([
        stream('carol'),
        new Promise((r) => setTimeout(r, 50)).then(() => stream('dave')),
      ]);
      expect(carol.cache).toBe('miss');
      expect(dave.cache).toBe('hit');
      expect(dave.text).toContain('"user":"dave"');
      expect(dave.text).not.toContain('carol');
      const stored = JSON.stringify(await everythingStored(gw.proxy));
      expect(stored).not.toContain('alice@example.com');
      expect(stored).not.toContain('carol');
      expect(stored).not.toContain('T-1');
    } finally {
      await gw.close();
    }
  });
});
