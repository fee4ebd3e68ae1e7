/**
 * Streams through the gateway, stored whole or not at all: every field a streamed answer carries
 * (legacy function calls, reasoning, thinking) is stored and replayed; what cannot be rebuilt is
 * passed on and not stored; and what one stream may cost (the upstream bytes pulled for a client
 * that does not read, a stream that never ends, a body too large to keep) is bounded. Clients are
 * the `openai` and `@anthropic-ai/sdk` packages, or a raw socket where a client must misbehave;
 * the upstream is test/support/fake-llm.ts, which counts the bytes each stream got out.
 */
import net from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeStream } from '../../test/support/fake-llm.js';
import { everythingStored, startGateway, type TestGateway } from '../../test/support/gateway.js';
import { SseParser } from './sse.js';

const MiB = 1024 * 1024;
const TOOL_ARGS = '{"city":"Paris","unit":"celsius"}';

let gw: TestGateway;
const openai = (g: TestGateway = gw, apiKey = 'sk-proj-streams-0001') =>
  new OpenAI({ apiKey, baseURL: `${g.url}/v1`, maxRetries: 0 });
const anthropic = (g: TestGateway = gw) =>
  new Anthropic({ apiKey: 'sk-ant-streams-0001', baseURL: g.url, maxRetries: 0 });

beforeAll(async () => {
  // Hits as stored (hitUsage 'original'): these tests compare replays with the upstream's answer byte
  // for byte; how a hit's usage is billed is hits.test.ts's.
  gw = await startGateway({ proxy: { idleTimeoutMs: 2_000, hitUsage: 'original' } });
});
afterAll(async () => {
  await gw?.close();
});

function chat(question: string, extra: Record<string, unknown> = {}) {
  return { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: question }], ...extra };
}

/** The upstream's own non-streamed answer to a request: the fake, asked directly. */
async function upstreamAnswer(g: TestGateway, path: string, body: object): Promise<unknown> {
  const res = await fetch(`${g.fake.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: false }),
  });
  return res.json();
}

/**
 * An answer without what names the call that made it (the fake numbers its calls) or what an SDK
 * helper adds of its own (`parsed`, `output_text`, undefined fields): two calls' answers to one
 * request are then equal exactly when they carry the same fields with the same values.
 */
function plain(answer: unknown): unknown {
  const text = JSON.stringify(answer)
    .replace(/#\d+/g, '#N')
    .replace(/\b(chatcmpl|call|msg|toolu|cmpl|resp|rs|fc)([-_])\d+/g, '$1$2N')
    .replace(/"(created|created_at)":\d+/g, '"$1":0');
  const added = new Set(['parsed', 'parsed_output', 'output_parsed', 'output_text']);
  return JSON.parse(text, (key, value) => (added.has(key) ? undefined : value));
}

/** The stream opened by the most recent upstream call. */
function lastStream(g: TestGateway): FakeStream {
  const stream = g.fake.streams.at(-1);
  if (!stream) throw new Error('the fake streamed nothing');
  return stream;
}

/** The next stream the fake opens. */
async function nextStream(g: TestGateway): Promise<FakeStream> {
  const known = g.fake.streams.length;
  await until(() => g.fake.streams.length > known);
  return g.fake.streams[known]!;
}

/** A client that sends a streaming request on a raw socket and then reads nothing. */
function unreadClient(g: TestGateway, body: object): net.Socket {
  const json = JSON.stringify(body);
  const { hostname, port } = new URL(g.url);
  const socket = net.connect(Number(port), hostname);
  socket.pause();
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer sk-proj-streams-0001\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
  );
  return socket;
}

/** Everything a paused raw socket has received and will receive, once it reads to the end. */
function readRest(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', () => {});
    socket.on('close', () => resolve(Buffer.concat(parts).toString('utf8')));
    socket.resume();
  });
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe('every field a stream carries is stored and replayed', () => {
  it('a legacy function_call, streamed, is stored whole and replayed as the upstream answers it', async () => {
    const request = chat('Weather in Paris? [function-call]', {
      functions: [{ name: 'get_weather', parameters: { type: 'object', properties: {} } }],
    });
    const upstream = await upstreamAnswer(gw, '/v1/chat/completions', request);
    const live = await openai()
      .chat.completions.stream({ ...request, stream: true } as never)
      .finalChatCompletion();
    expect(live.choices[0]!.message.function_call).toEqual({ name: 'get_weather', arguments: TOOL_ARGS });
    const calls = gw.fake.count();

    const json = await openai()
      .chat.completions.create(request as never)
      .withResponse();
    expect(json.response.headers.get('x-strata-cache')).toBe('hit');
    expect(plain(json.data)).toEqual(plain(upstream));

    const replayed = await openai()
      .chat.completions.stream({ ...request, stream: true, stream_options: { include_usage: true } } as never)
      .finalChatCompletion();
    expect(plain(replayed)).toEqual(plain(upstream));
    // An application adding up the deltas itself gets the same call.
    let args = '';
    const streaming = {
      ...request,
      stream: true,
    } as OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming;
    for await (const chunk of await openai().chat.completions.create(streaming))
      args += chunk.choices[0]?.delta?.function_call?.arguments ?? '';
    expect(args).toBe(TOOL_ARGS);
    expect(gw.fake.count()).toBe(calls);
  });

  for (const field of ['reasoning_content', 'reasoning']) {
    it(`${field} (DeepSeek, vLLM, SGLang), streamed, is stored whole and replayed as deltas`, async () => {
      const tag = field === 'reasoning' ? '[reasoning:reasoning]' : '[reasoning]';
      const request = chat(`Why is the sky blue? ${tag}`);
      const upstream = (await upstreamAnswer(gw, '/v1/chat/completions', request)) as {
        choices: { message: Record<string, string> }[];
      };
      expect(upstream.choices[0]!.message[field]).toMatch(/^Reasoning #\d+/);
      // Live, as DeepSeek sends it: reasoning pieces, then content pieces with `${field}: null`.
      const reasoningOf = async (stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) => {
        let text = '';
        for await (const chunk of stream)
          text += (chunk.choices[0]?.delta as Record<string, string | null | undefined>)?.[field] ?? '';
        return text;
      };
      const live = await reasoningOf(await openai().chat.completions.create({ ...request, stream: true }));
      expect(live).toMatch(/^Reasoning #\d+/);
      const calls = gw.fake.count();

      const json = await openai().chat.completions.create(request);
      expect(plain(json)).toEqual(plain(upstream));
      const replayed = await openai()
        .chat.completions.stream({ ...request, stream: true, stream_options: { include_usage: true } })
        .finalChatCompletion();
      expect(plain(replayed)).toEqual(plain(upstream));
      const replayedReasoning = await reasoningOf(
        await openai().chat.completions.create({ ...request, stream: true }),
      );
      expect(replayedReasoning).toBe(live);
      expect((json.choices[0]!.message as unknown as Record<string, string>)[field]).toBe(live);
      expect(gw.fake.count()).toBe(calls);
    });
  }

  it('Anthropic thinking, streamed, is stored whole and replayed with its signature', async () => {
    const request = {
      model: 'claude-sonnet-4-5',
      max_tokens: 1024,
      thinking: { type: 'enabled' as const, budget_tokens: 512 },
      messages: [{ role: 'user' as const, content: 'Think first [reasoning]' }],
    };
    const upstream = await upstreamAnswer(gw, '/v1/messages', request);
    const live = await anthropic().messages.stream(request).finalMessage();
    expect(live.content[0]).toMatchObject({ type: 'thinking', signature: expect.any(String) });
    const calls = gw.fake.count();
    expect(plain(await anthropic().messages.create(request))).toEqual(plain(upstream));
    const stream = anthropic().messages.stream(request);
    let thinking = '';
    stream.on('thinking', (piece) => {
      thinking += piece;
    });
    expect(plain(await stream.finalMessage())).toEqual(plain(upstream));
    expect(thinking).toBe((live.content[0] as Anthropic.ThinkingBlock).thinking);
    expect(gw.fake.count()).toBe(calls);
  });

  it('Anthropic citations, streamed, are stored and replayed as citations deltas', async () => {
    const request = {
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      messages: [{ role: 'user' as const, content: 'Why is the sky blue? Cite it [citations]' }],
    };
    const upstream = (await upstreamAnswer(gw, '/v1/messages', request)) as Anthropic.Message;
    await anthropic().messages.stream(request).finalMessage();
    const calls = gw.fake.count();
    expect(plain(await anthropic().messages.create(request))).toEqual(plain(upstream));
    const stream = anthropic().messages.stream(request);
    const cited: unknown[] = [];
    stream.on('citation', (citation) => cited.push(citation));
    expect(plain(await stream.finalMessage())).toEqual(plain(upstream));
    expect(cited).toEqual((upstream.content[0] as Anthropic.TextBlock).citations);
    expect(gw.fake.count()).toBe(calls);
  });

  it('a Responses reasoning summary, streamed, is stored and replayed event by event', async () => {
    const request = {
      model: 'gpt-5-mini',
      input: 'Think it through [reasoning]',
      reasoning: { summary: 'auto' as const },
    };
    const upstream = (await upstreamAnswer(gw, '/v1/responses', request)) as OpenAI.Responses.Response;
    expect(upstream.output[0]).toMatchObject({ type: 'reasoning' });
    await openai().responses.stream(request).finalResponse();
    const calls = gw.fake.count();
    const json = await openai().responses.create(request);
    expect(plain(json)).toEqual(plain(upstream));
    const stream = openai().responses.stream(request);
    let summary = '';
    stream.on('response.reasoning_summary_text.delta', (event) => {
      summary += event.delta;
    });
    expect(plain(await stream.finalResponse())).toEqual(plain(upstream));
    expect(summary).toBe((json.output[0] as OpenAI.Responses.ResponseReasoningItem).summary[0]!.text);
    expect(gw.fake.count()).toBe(calls);
  });
});

describe('fields a server adds are kept', () => {
  it('legacy completions: logprobs lists, a choice field and a chunk field, as vLLM-like servers stream them', async () => {
    const request = { model: 'gpt-3.5-turbo-instruct', prompt: 'Say it with logprobs [extras]', logprobs: 1 };
    const upstream = await upstreamAnswer(gw, '/v1/completions', request);
    let live = '';
    for await (const chunk of await openai().completions.create({ ...request, stream: true }))
      live += chunk.choices[0]?.text ?? '';
    const calls = gw.fake.count();
    const json = await openai().completions.create(request).withResponse();
    expect(json.response.headers.get('x-strata-cache')).toBe('hit');
    expect(plain(json.data)).toEqual(plain(upstream));
    expect(json.data.choices[0]!.text).toBe(live);
    const replayed: OpenAI.Completions.Completion[] = [];
    for await (const chunk of await openai().completions.create({ ...request, stream: true }))
      replayed.push(chunk);
    expect(replayed[0]!.choices[0]).toEqual(json.data.choices[0]);
    expect(gw.fake.count()).toBe(calls);
  });
});

describe('what cannot be rebuilt whole is passed on, not stored', () => {
  it('an unknown delta field whose object value changes (chat)', async () => {
    const request = chat('Odd chat stream [odd-delta]');
    let text = '';
    for await (const chunk of await openai().chat.completions.create({ ...request, stream: true }))
      text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toMatch(/^Answer #\d+ to: Odd chat stream/);
    const calls = gw.fake.count();
    const again = await openai().chat.completions.create(request).withResponse();
    expect(again.response.headers.get('x-strata-cache')).toBe('miss');
    expect(gw.fake.count()).toBe(calls + 1);
  });

  it('a delta type Anthropic has not defined (yet)', async () => {
    const request = {
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      messages: [{ role: 'user' as const, content: 'Odd message stream [odd-delta]' }],
    };
    const live = await anthropic().messages.stream(request).finalMessage();
    expect(live.content[0]).toMatchObject({ type: 'text', text: expect.stringMatching(/^Answer #\d+/) });
    const calls = gw.fake.count();
    const again = await anthropic().messages.create(request).withResponse();
    expect(again.response.headers.get('x-strata-cache')).toBe('miss');
    expect(gw.fake.count()).toBe(calls + 1);
  });
});

describe('size', () => {
  it('a 40k-token streamed answer is stored: its framing is MBs, its JSON far less', async () => {
    const request = chat('Write at length [long:40000]');
    let text = '';
    for await (const chunk of await openai().chat.completions.create({ ...request, stream: true }))
      text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(160_000);
    // The stream itself outgrew maxStoredBytes (8 MiB): counting it, this answer was never cached.
    expect(lastStream(gw).bytes).toBeGreaterThan(8 * MiB);
    const calls = gw.fake.count();
    const replay = await openai()
      .chat.completions.create({ ...request, stream: true })
      .withResponse();
    let replayed = '';
    for await (const chunk of replay.data) replayed += chunk.choices[0]?.delta?.content ?? '';
    expect(replay.response.headers.get('x-strata-cache')).toBe('hit');
    expect(replayed).toBe(text);
    expect((await openai().chat.completions.create(request)).choices[0]!.message.content).toBe(text);
    expect(gw.fake.count()).toBe(calls);
  });

  it('a JSON answer larger than maxStoredBytes reaches its client and every waiting one, unstored', async () => {
    const small = await startGateway({ fake: gw.fake, proxy: { maxStoredBytes: 64 * 1024 } });
    try {
      const request = chat('Long JSON [slow:200][long:50000]');
      const before = small.fake.count();
      // Two at once: one leads; the other waited for an answer that is not kept, and asks on its own.
      const [a, b] = await Promise.all([
        openai(small).chat.completions.create(request).withResponse(),
        openai(small).chat.completions.create(request).withResponse(),
      ]);
      for (const r of [a, b]) {
        expect(r.response.headers.get('x-strata-cache')).toBe('miss');
        expect(r.data.choices[0]!.message.content!.length).toBeGreaterThan(200_000);
      }
      expect(small.fake.count()).toBe(before + 2);
      const again = await openai(small).chat.completions.create(request).withResponse();
      expect(again.response.headers.get('x-strata-cache')).toBe('miss');
      expect(small.fake.count()).toBe(before + 3);
    } finally {
      await small.close();
    }
  });

  it('a stream that never ends is cut at maxStreamBytes: the client sees an error, the call is aborted, nothing is stored', async () => {
    const capped = await startGateway({ fake: gw.fake, proxy: { maxStreamBytes: 2 * MiB } });
    try {
      const request = chat('Endless question [endless]');
      const error = await (async () => {
        for await (const _ of await openai(capped).chat.completions.create({ ...request, stream: true })) {
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      const stream = lastStream(capped);
      // The upstream's connection was closed under it: it stopped writing.
      await stream.closed;
      expect(stream.bytes).toBeGreaterThan(2 * MiB);
      expect(capped.warnings.join('\n')).toContain('maxStreamBytes');
      expect(await everythingStored(capped.proxy)).not.toContain('Endless question');
      const json = await openai(capped).chat.completions.create(request).withResponse();
      expect(json.response.headers.get('x-strata-cache')).toBe('miss');
    } finally {
      await capped.close();
    }
  });
});

describe('backpressure', () => {
  it('a client that never reads pulls a bounded amount from the upstream, not the stream', async () => {
    const patient = await startGateway({ fake: gw.fake, proxy: { idleTimeoutMs: 1_000 } });
    try {
      // About 200 MB of stream. The gateway stops reading the upstream once the client's socket is
      // full; what the upstream still gets out is the sockets' kernel buffers on both legs (about
      // 7 MB on Linux loopback; the bound leaves room for other kernels' buffer sizes).
      const request = { ...chat('Nobody reads this [long:1000000]'), stream: true };
      const opened = nextStream(patient);
      const socket = unreadClient(patient, request);
      const stream = await opened;
      await stream.closed;
      socket.destroy();
      expect(stream.bytes).toBeLessThan(32 * MiB);
      expect(patient.warnings.join('\n')).toContain('no client read it');
      const json = await openai(patient).chat.completions.create(chat('Nobody reads this [long:1000]'));
      expect(json.choices[0]!.message.content).toContain('Nobody reads this');
    } finally {
      await patient.close();
    }
  });

  it('a reader that falls far behind while another keeps up is cut off; the other gets it all', async () => {
    const g = await startGateway({
      fake: gw.fake,
      proxy: { maxStoredBytes: 1 * MiB, idleTimeoutMs: 30_000 },
    });
    try {
      // About 12 MB of stream: more than the slow client's kernel buffers and 2 x maxStoredBytes.
      const request = { ...chat('One slow, one fast [slow:300][long:30000:50]'), stream: true as const };
      const before = g.fake.count();
      const slow = unreadClient(g, request);
      await until(() => g.fake.count() === before + 1);
      let fast = '';
      for await (const chunk of await openai(g).chat.completions.create(request))
        fast += chunk.choices[0]?.delta?.content ?? '';
      expect(fast.length).toBeGreaterThan(400_000);
      expect(g.fake.count()).toBe(before + 1);
      // The slow one, reading at last, finds its stream broken off: no [DONE].
      const received = await readRest(slow);
      expect(received).toContain('x-strata-cache');
      expect(received).not.toContain('data: [DONE]');
      expect(received.length).toBeLessThan(lastStream(g).bytes / 2);
    } finally {
      await g.close();
    }
  });

  it('a stream past its replay bound takes no more streaming followers: a late one makes its own call', async () => {
    const g = await startGateway({
      fake: gw.fake,
      proxy: { maxStoredBytes: 256 * 1024, idleTimeoutMs: 30_000 },
    });
    try {
      // About 25 MB of stream: more than every buffer between the fake and a leader that stops reading.
      const request = { ...chat('Join too late [long:40000:100]'), stream: true as const };
      const before = g.fake.count();
      const leader = (await openai(g).chat.completions.create(request))[Symbol.asyncIterator]();
      let led = '';
      // More than the replay bound of text alone has been forwarded; the leader then stops reading,
      // which holds the stream (and its flight) open.
      while (led.length <= 300 * 1024) led += (await leader.next()).value?.choices[0]?.delta?.content ?? '';
      let late = '';
      for await (const chunk of await openai(g).chat.completions.create(request))
        late += chunk.choices[0]?.delta?.content ?? '';
      expect(g.fake.count()).toBe(before + 2);
      for (let next = await leader.next(); !next.done; next = await leader.next())
        led += next.value.choices[0]?.delta?.content ?? '';
      expect(late.length).toBe(led.length);
      expect(late.match(/^Answer #(\d+)/)![1]).not.toBe(led.match(/^Answer #(\d+)/)![1]);
    } finally {
      await g.close();
    }
  });
});

describe('upstream failures are logged, once each, with nothing a client typed', () => {
  it('names route, what happened and the upstream origin; never the prompt, key or model', async () => {
    const g = await startGateway({ fake: gw.fake, proxy: { idleTimeoutMs: 300 } });
    const key = 'sk-proj-never-logged-9999';
    try {
      const ask = (question: string, stream: boolean) =>
        openai(g, key)
          .chat.completions.create({ ...chat(question), model: 'sk-model-typed-by-client', stream } as never)
          .then(async (r) => {
            if (stream)
              for await (const _ of r as unknown as AsyncIterable<unknown>) {
              }
          })
          .catch(() => {});
      const cases: [string, boolean, string][] = [
        ['Secret prompt one [fail:503]', false, 'answered 503'],
        ['Secret prompt two [fail:429]', true, 'answered 429'],
        ['Secret prompt three [stall]', true, 'stalled mid-response'],
        ['Secret prompt four [drop]', true, 'broke off mid-stream'],
        ['Secret prompt five [error-event]', true, 'reported an error mid-stream'],
      ];
      for (const [question, stream, what] of cases) {
        const before = g.warnings.length;
        await ask(question, stream);
        const lines = g.warnings.slice(before);
        expect(lines, question).toHaveLength(1);
        expect(lines[0]!.startsWith(`[strata] proxy: chat.completions upstream ${g.fake.url}: ${what}`)).toBe(
          true,
        );
      }
      // A request not cached (server-side conversation state) is forwarded, and its failure logged too.
      const before = g.warnings.length;
      await openai(g, key)
        .responses.create({
          model: 'gpt-4o-mini',
          input: 'Secret prompt six [fail:500]',
          conversation: 'conv_1',
        })
        .catch(() => {});
      expect(g.warnings.slice(before)).toEqual([
        `[strata] proxy: responses upstream ${g.fake.url}: answered 500`,
      ]);
      const logged = g.warnings.join('\n');
      for (const secret of ['Secret prompt', key, 'sk-model-typed']) expect(logged).not.toContain(secret);
    } finally {
      await g.close();
    }
    const dead = await startGateway({
      proxy: { upstreams: [{ url: 'http://user:pw@127.0.0.1:1', api: 'openai' }] },
    });
    try {
      await openai(dead)
        .chat.completions.create(chat('anyone?'))
        .catch(() => {});
      // Only the failure: the start-up note about the digest key is not about this request.
      expect(dead.warnings.filter((w) => !w.includes('digest'))).toEqual([
        '[strata] proxy: chat.completions upstream http://127.0.0.1:1: could not be reached (ECONNREFUSED)',
      ]);
    } finally {
      await dead.close();
    }
  });
});

describe('SseParser', () => {
  it('assembles a line that arrives in many small pieces', () => {
    const data = `{"text":"${'x'.repeat(200_000)}"}`;
    const bytes = Buffer.from(`data: ${data}\r\n\r\n`);
    const parser = new SseParser();
    const events = [];
    for (let i = 0; i < bytes.length; i += 97) events.push(...parser.push(bytes.subarray(i, i + 97)));
    expect(events.map((e) => e.data)).toEqual([data]);
  });
});
