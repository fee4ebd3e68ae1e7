/**
 * A fake OpenAI and Anthropic API for the gateway's tests and benchmark: it counts calls, answers
 * deterministically (the answer names the call that produced it, so a replay from the cache is
 * recognisable), streams in pieces with a delay, and misbehaves on request. The final user text
 * of a request may carry directives:
 *
 *   [fail:500]  answer with that status and an error body      [stall]  send one piece, then hang
 *   [drop]      send one piece, then break the connection       [tool]   answer with a tool call
 *   [slow:200]  wait that many ms before answering              [error-event] end the stream with an error event
 *   [function-call]  chat: a legacy `function_call` (first of the request's `functions`)
 *   [reasoning]      chat: `reasoning_content` before the answer ([reasoning:reasoning] names the
 *                    field); messages: a thinking block with its signature; responses: a reasoning
 *                    item with a summary
 *   [citations] messages: the text block cites a document
 *   [extras]    completions: what vLLM-like servers add: logprobs, a `stop_reason` on the choice,
 *               a `provider` on every chunk
 *   [long:N]    chat: an answer of N more four-character tokens, streamed one token a chunk, as
 *               fast as the reader takes it (no piece delay); [long:N:K]: K tokens a chunk
 *   [endless]   chat: a stream that never ends, as fast as the reader takes it
 *   [odd-delta] chat: an unknown delta field whose object value changes; messages: a delta of an
 *               unknown type (what no assembler can rebuild)
 *
 * `outage` makes every call fail the same way, whatever it asks, until it is cleared: an HTTP
 * status with an error body, `drop` (a stream's headers, then a broken connection before its
 * first event; a JSON call's connection broken at once), or `error-event` (a stream's HTTP 200,
 * then the API's overload error as its first and only event: OpenAI's `server_error` data,
 * Anthropic's `event: error` with `overloaded_error`; a JSON call answers 503), or `{ lead, fail }`
 * (a stream's HTTP 200, the `lead` events, then an error event of the type `fail`, or a broken
 * connection for `drop`; a JSON call answers 503): `start` is Anthropic's message_start or
 * OpenAI's role-only chunk, `ping` and `block` (an empty text block's start) are Anthropic's, and
 * `content` is a piece of text on both.
 *
 * Every stream is counted in `streams`: the bytes the fake managed to hand to its socket, and when
 * the stream's connection closed (an upstream the gateway stops reading from stops writing).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeCall {
  readonly path: string;
  /** Path and query as received. */
  readonly url: string;
  readonly method: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown> | undefined;
}

export interface FakeStream {
  /** The call's number (the `#n` of its answer). */
  readonly n: number;
  readonly path: string;
  /** Bytes of the stream its socket took so far (written through, not merely queued). */
  readonly bytes: number;
  /** Resolves once the stream's response closed: ended, or its connection broken. */
  readonly closed: Promise<void>;
}

export interface FakeLlm {
  readonly url: string;
  readonly calls: FakeCall[];
  /** Every streamed answer, in order. */
  readonly streams: FakeStream[];
  /** Calls to one path. */
  count(path?: string): number;
  /** Delay between two streamed pieces (ms). */
  pieceDelayMs: number;
  /** While set, every API call fails this way (see the header). */
  outage?: FakeOutage | undefined;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

/** A status (after `delayMs`, so concurrent calls overlap), or `drop`. */
export type FakeOutage =
  | { status: number; delayMs?: number }
  | 'drop'
  | 'error-event'
  | { lead: readonly LeadEvent[]; fail: string };

/** An event a stream may send before it fails (the header). */
export type LeadEvent = 'start' | 'ping' | 'block' | 'content';

export async function startFakeLlm(
  options: {
    pieceDelayMs?: number /** Keep every call's headers and body (tests); a benchmark only counts. */;
    keepCalls?: boolean;
  } = {},
): Promise<FakeLlm> {
  const calls: FakeCall[] = [];
  const streams: FakeStream[] = [];
  const counts = new Map<string, number>();
  let total = 0;
  const sockets = new Set<import('node:net').Socket>();
  const state: { pieceDelayMs: number; outage: FakeOutage | undefined } = {
    pieceDelayMs: options.pieceDelayMs ?? 5,
    outage: undefined,
  };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Json | undefined;
    try {
      body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    // Not part of the API: how many calls were made, for a benchmark running the fake in its own process.
    if (path === '/_fake/calls') return json(res, 200, { total });
    if (options.keepCalls !== false)
      calls.push({ path, url: req.url ?? '/', method: req.method ?? 'GET', headers: req.headers, body });
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const n = ++total;
    const outage = state.outage;
    if (outage === 'drop') {
      if (body?.stream !== true) return req.socket.destroy();
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      setTimeout(() => res.socket?.destroy(), 5);
      return;
    }
    if (outage === 'error-event' && body?.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      return res.end(
        path === '/v1/messages'
          ? sse({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'error')
          : sse({ error: { message: 'The server is overloaded', type: 'server_error', code: null } }),
      );
    }
    if (typeof outage === 'object' && 'lead' in outage) {
      if (body?.stream !== true)
        return json(res, 503, { error: { message: 'overloaded', type: 'server_error' } });
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const messages = path === '/v1/messages';
      for (const lead of outage.lead) res.write(leadEvent(lead, messages, n, body));
      if (outage.fail === 'drop') {
        setTimeout(() => res.socket?.destroy(), 5);
        return;
      }
      const error = { type: outage.fail, message: `fake ${outage.fail}` };
      return res.end(
        messages ? sse({ type: 'error', error }, 'error') : sse({ error: { ...error, code: null } }),
      );
    }
    if (outage === 'error-event')
      return json(res, 503, { error: { message: 'overloaded', type: 'server_error' } });
    if (outage) {
      if (outage.delayMs) await sleep(outage.delayMs);
      return json(res, outage.status, {
        error: { message: `fake outage ${outage.status}`, type: 'server_error', code: null },
      });
    }
    if (req.method === 'GET' && path === '/v1/models') {
      return json(res, 200, {
        object: 'list',
        data: [{ id: 'gpt-4o-mini', object: 'model', owned_by: 'fake' }],
      });
    }
    if (!body)
      return json(res, 400, { error: { message: 'body must be JSON', type: 'invalid_request_error' } });
    const question = lastText(body);
    const slow = /\[slow:(\d+)\]/.exec(question);
    if (slow) await sleep(Number(slow[1]));
    const fail = /\[fail:(\d+)\]/.exec(question);
    if (fail) {
      const status = Number(fail[1]);
      return path === '/v1/messages'
        ? json(res, status, {
            type: 'error',
            error: { type: 'api_error', message: `fake failure ${status}` },
          })
        : json(res, status, {
            error: { message: `fake failure ${status}`, type: 'server_error', code: null },
          });
    }
    const long = /\[long:(\d+)(?::(\d+))?\]/.exec(question);
    const answer = `Answer #${n} to: ${question}`;
    const tool = question.includes('[tool]') && Array.isArray(body.tools) && body.tools.length > 0;
    const stream = body.stream === true;
    const reasoning = /\[reasoning(?::(\w+))?\]/.exec(question);
    const plan: Plan = {
      question,
      answer,
      tool,
      n,
      res,
      state,
      body,
      functionCall: question.includes('[function-call]'),
      reasoning: reasoning ? (reasoning[1] ?? 'reasoning_content') : undefined,
      long: long ? Number(long[1]) : undefined,
      perChunk: long?.[2] ? Number(long[2]) : 1,
      endless: question.includes('[endless]'),
      odd: question.includes('[odd-delta]'),
      citations: question.includes('[citations]'),
      extras: question.includes('[extras]'),
      stream: stream ? counted(streams, n, path, res) : undefined,
    };
    switch (path) {
      case '/v1/chat/completions':
        return stream ? streamChat(plan) : json(res, 200, chatCompletion(plan));
      case '/v1/completions':
        return stream ? streamCompletion(plan) : json(res, 200, completion(plan));
      case '/v1/embeddings':
        return json(res, 200, embeddings(body));
      case '/v1/responses':
        return stream ? streamResponse(plan) : json(res, 200, response(plan));
      case '/v1/messages':
        return stream ? streamMessage(plan) : json(res, 200, message(plan));
      default:
        return json(res, 404, { error: { message: `no route ${path}`, type: 'invalid_request_error' } });
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    streams,
    count: (p) => (p === undefined ? total : (counts.get(p) ?? 0)),
    get pieceDelayMs() {
      return state.pieceDelayMs;
    },
    set pieceDelayMs(ms: number) {
      state.pieceDelayMs = ms;
    },
    get outage() {
      return state.outage;
    },
    set outage(outage: FakeOutage | undefined) {
      state.outage = outage;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Plan {
  question: string;
  answer: string;
  tool: boolean;
  n: number;
  res: http.ServerResponse;
  state: { pieceDelayMs: number };
  body: Json;
  functionCall: boolean;
  /** The delta field reasoning streams in, when asked for. */
  reasoning: string | undefined;
  long: number | undefined;
  /** Tokens of a [long] answer in one chunk. */
  perChunk: number;
  endless: boolean;
  odd: boolean;
  citations: boolean;
  extras: boolean;
  /** The count of a streamed answer's bytes. */
  stream: { bytes: number } | undefined;
}

/** Starts counting a streamed answer's bytes (see `send`). */
function counted(
  streams: FakeStream[],
  n: number,
  path: string,
  res: http.ServerResponse,
): { bytes: number } {
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  const stream = { n, path, bytes: 0, closed };
  streams.push(stream);
  return stream;
}

/** Writes `data`, counting it once the socket took it; false when the socket wants a drain first. */
function send(plan: Plan, data: string): boolean {
  const size = Buffer.byteLength(data);
  return plan.res.write(data, (error) => {
    if (!error && plan.stream) plan.stream.bytes += size;
  });
}

/** Writes events as fast as the reader takes them, in batches, until they end or the connection does. */
async function pour(plan: Plan, events: Iterable<string>): Promise<void> {
  const { res } = plan;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let batch = '';
  for (const event of events) {
    batch += event;
    if (batch.length < 16_384) continue;
    if (res.destroyed) return;
    const more = send(plan, batch);
    batch = '';
    if (!more) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  if (res.destroyed) return;
  if (batch) send(plan, batch);
  res.end();
}

/** The tokens of a [long:N] answer: four characters each, so N tokens are 4N bytes of text. */
const WORDS = [' the', ' sky', ' was', ' red'];
function* longTokens(count: number): Generator<string> {
  for (let i = 0; i < count; i++) yield WORDS[i % WORDS.length]!;
}

function reasoningOf(plan: Plan): string {
  return `Reasoning #${plan.n}: the user asks about ${plan.question.length} characters of text.`;
}

function lastText(body: Json): string {
  if (typeof body.prompt === 'string') return body.prompt;
  if (typeof body.input === 'string') return body.input;
  const list = (
    Array.isArray(body.messages) ? body.messages : Array.isArray(body.input) ? body.input : []
  ) as Json[];
  const last = list.at(-1);
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  if (Array.isArray(last.content))
    return (last.content as Json[]).map((p) => (typeof p.text === 'string' ? p.text : '')).join(' ');
  return '';
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${Date.now()}` });
  res.end(body);
}

/** Splits text into three pieces (by code point, so a piece never ends mid-surrogate-pair). */
function pieces(text: string): string[] {
  const chars = [...text];
  const third = Math.max(1, Math.ceil(chars.length / 3));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += third) out.push(chars.slice(i, i + third).join(''));
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes SSE events with a delay between them, misbehaving as the question asks: after the first
 * event, [drop] breaks the connection and [stall] never writes again.
 */
async function writeStream(plan: Plan, events: string[], errorEvent?: string): Promise<void> {
  const { res, question } = plan;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (let i = 0; i < events.length; i++) {
    if (res.destroyed) return;
    send(plan, events[i]!);
    if (i === 1 && question.includes('[drop]')) {
      res.socket?.destroy();
      return;
    }
    if (i === 1 && question.includes('[stall]')) return;
    if (i === 1 && question.includes('[error-event]') && errorEvent) {
      res.end(errorEvent);
      return;
    }
    if (plan.state.pieceDelayMs > 0) await sleep(plan.state.pieceDelayMs);
  }
  res.end();
}

/** One of the events a stream opens with (FakeOutage's `lead`), as Anthropic's or OpenAI's API sends it. */
function leadEvent(lead: LeadEvent, messages: boolean, n: number, body: Json): string {
  if (messages) {
    if (lead === 'start')
      return sse(
        {
          type: 'message_start',
          message: {
            id: `msg_${n}`,
            type: 'message',
            role: 'assistant',
            content: [],
            model: body.model,
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 20, output_tokens: 1 },
          },
        },
        'message_start',
      );
    if (lead === 'ping') return sse({ type: 'ping' }, 'ping');
    if (lead === 'block')
      return sse(
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        'content_block_start',
      );
    return sse(
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Partly' } },
      'content_block_delta',
    );
  }
  const delta = lead === 'content' ? { content: 'Partly' } : { role: 'assistant', content: '' };
  return sse({
    id: `chatcmpl-${n}`,
    object: 'chat.completion.chunk',
    created: 1_700_000_000 + n,
    model: body.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
  });
}

const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

function usage(plan: Plan) {
  return {
    prompt_tokens: 20 + plan.question.length,
    completion_tokens: 10,
    total_tokens: 30 + plan.question.length,
  };
}

const TOOL_ARGS = '{"city":"Paris","unit":"celsius"}';

function toolName(body: Json): string {
  const t = (body.tools as Json[])[0]!;
  return ((t.function as Json | undefined)?.name ?? t.name) as string;
}

function chatCompletion(plan: Plan): Json {
  const content =
    plan.long === undefined ? plan.answer : plan.answer + [...longTokens(plan.long * plan.perChunk)].join('');
  if (plan.functionCall)
    return {
      ...chatHead(plan, 'chat.completion'),
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            function_call: { name: functionName(plan.body), arguments: TOOL_ARGS },
            refusal: null,
          },
          logprobs: null,
          finish_reason: 'function_call',
        },
      ],
      usage: usage(plan),
      system_fingerprint: 'fp_fake',
    };
  const message = plan.tool
    ? {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: `call_${plan.n}`,
            type: 'function',
            function: { name: toolName(plan.body), arguments: TOOL_ARGS },
          },
        ],
        refusal: null,
      }
    : {
        role: 'assistant',
        content,
        ...(plan.reasoning ? { [plan.reasoning]: reasoningOf(plan) } : {}),
        refusal: null,
      };
  return {
    id: `chatcmpl-${plan.n}`,
    object: 'chat.completion',
    created: 1_700_000_000 + plan.n,
    model: plan.body.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: plan.tool ? 'tool_calls' : 'stop' }],
    usage: usage(plan),
    system_fingerprint: 'fp_fake',
  };
}

function chatHead(plan: Plan, object: string): Json {
  return { id: `chatcmpl-${plan.n}`, object, created: 1_700_000_000 + plan.n, model: plan.body.model };
}

function functionName(body: Json): string {
  const first = Array.isArray(body.functions) ? (body.functions[0] as Json | undefined) : undefined;
  return typeof first?.name === 'string' ? first.name : 'get_weather';
}

function streamChat(plan: Plan): Promise<void> {
  const head = { ...chatHead(plan, 'chat.completion.chunk'), system_fingerprint: 'fp_fake' };
  const withUsage = (plan.body.stream_options as Json | undefined)?.include_usage === true;
  const chunk = (delta: Json, finish: string | null = null) =>
    sse({
      ...head,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(withUsage ? { usage: null } : {}),
    });
  if (plan.endless)
    return pour(
      plan,
      (function* () {
        yield chunk({ role: 'assistant', content: '' });
        for (;;) yield* [...longTokens(1_000)].map((t) => chunk({ content: t }));
      })(),
    );
  if (plan.long !== undefined) {
    const count = plan.long;
    return pour(
      plan,
      (function* () {
        yield chunk({ role: 'assistant', content: '' });
        yield chunk({ content: plan.answer });
        const words = WORDS.join('').repeat(Math.ceil(plan.perChunk / WORDS.length) + 1);
        for (let i = 0; i < count; i++) {
          // Where the i-th chunk's tokens start in the word cycle, so that the text is longTokens'.
          const from = ((i * plan.perChunk) % WORDS.length) * 4;
          yield chunk({ content: words.slice(from, from + 4 * plan.perChunk) });
        }
        yield chunk({}, 'stop');
        if (withUsage) yield sse({ ...head, choices: [], usage: usage(plan) });
        yield sse('[DONE]');
      })(),
    );
  }
  if (plan.functionCall) {
    const name = functionName(plan.body);
    const events = [
      chunk({ role: 'assistant', content: null, function_call: { name, arguments: '' } }),
      chunk({ function_call: { arguments: TOOL_ARGS.slice(0, 10) } }),
      chunk({ function_call: { arguments: TOOL_ARGS.slice(10) } }),
      chunk({}, 'function_call'),
    ];
    if (withUsage) events.push(sse({ ...head, choices: [], usage: usage(plan) }));
    events.push(sse('[DONE]'));
    return writeStream(plan, events);
  }
  // As DeepSeek streams it: reasoning pieces with a null content, then content with a null reasoning.
  const field = plan.reasoning;
  const events = [
    chunk({ role: 'assistant', content: field ? null : '', ...(field ? { [field]: '' } : {}) }),
  ];
  if (field) for (const p of pieces(reasoningOf(plan))) events.push(chunk({ content: null, [field]: p }));
  if (plan.odd) {
    events.push(chunk({ widget: { step: 1 } }));
    events.push(chunk({ widget: { step: 2 } }));
  }
  if (plan.tool) {
    events.push(
      chunk({
        tool_calls: [
          {
            index: 0,
            id: `call_${plan.n}`,
            type: 'function',
            function: { name: toolName(plan.body), arguments: '' },
          },
        ],
      }),
    );
    events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: TOOL_ARGS.slice(0, 10) } }] }));
    events.push(chunk({ tool_calls: [{ index: 0, function: { arguments: TOOL_ARGS.slice(10) } }] }));
    events.push(chunk({}, 'tool_calls'));
  } else {
    for (const p of pieces(plan.answer))
      events.push(chunk({ content: p, ...(field ? { [field]: null } : {}) }));
    events.push(chunk({}, 'stop'));
  }
  if (withUsage) events.push(sse({ ...head, choices: [], usage: usage(plan) }));
  events.push(sse('[DONE]'));
  return writeStream(
    plan,
    events,
    sse({ error: { message: 'fake mid-stream error', type: 'server_error' } }),
  );
}

/** A piece of text's logprobs as legacy completions give them: lists, one entry a token. */
function textLogprobs(text: string, offset: number): Json {
  const tokens = text.split(/(?=\s)/);
  let at = offset;
  return {
    tokens,
    token_logprobs: tokens.map((t) => -0.125 * t.length),
    top_logprobs: tokens.map((t) => ({ [t]: -0.125 * t.length })),
    text_offset: tokens.map((t) => {
      const start = at;
      at += t.length;
      return start;
    }),
  };
}

function completion(plan: Plan): Json {
  const extras = plan.extras;
  return {
    id: `cmpl-${plan.n}`,
    object: 'text_completion',
    created: 1_700_000_000 + plan.n,
    model: plan.body.model,
    ...(extras ? { provider: 'fake-provider' } : {}),
    choices: [
      {
        text: plan.answer,
        index: 0,
        logprobs: extras ? textLogprobs(plan.answer, 0) : null,
        finish_reason: 'stop',
        ...(extras ? { stop_reason: 42 } : {}),
      },
    ],
    usage: usage(plan),
  };
}

function streamCompletion(plan: Plan): Promise<void> {
  const extras = plan.extras;
  const head = {
    id: `cmpl-${plan.n}`,
    object: 'text_completion',
    created: 1_700_000_000 + plan.n,
    model: plan.body.model,
    ...(extras ? { provider: 'fake-provider' } : {}),
  };
  const withUsage = (plan.body.stream_options as Json | undefined)?.include_usage === true;
  // With logprobs, pieces split between words, so that each piece's tokens are the whole answer's.
  const words = plan.answer.split(/(?=\s)/);
  const third = Math.ceil(words.length / 3);
  const parts = extras
    ? [0, 1, 2].map((i) => words.slice(i * third, (i + 1) * third).join('')).filter((p) => p !== '')
    : pieces(plan.answer);
  let offset = 0;
  const events = parts.map((p, i) => {
    const last = i === parts.length - 1;
    const choice = {
      text: p,
      index: 0,
      logprobs: extras ? textLogprobs(p, offset) : null,
      finish_reason: last ? 'stop' : null,
      ...(extras ? { stop_reason: last ? 42 : null } : {}),
    };
    offset += p.length;
    return sse({ ...head, choices: [choice] });
  });
  if (withUsage) events.push(sse({ ...head, choices: [], usage: usage(plan) }));
  events.push(sse('[DONE]'));
  return writeStream(plan, events);
}

function embeddings(body: Json): Json {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const vector = (i: number) => [0.1 * (i + 1), 0.2, -0.3, 0.4];
  const base64 = body.encoding_format === 'base64';
  return {
    object: 'list',
    data: inputs.map((_, i) => ({
      object: 'embedding',
      index: i,
      embedding: base64 ? Buffer.from(new Float32Array(vector(i)).buffer).toString('base64') : vector(i),
    })),
    model: body.model,
    usage: { prompt_tokens: 8 * inputs.length, total_tokens: 8 * inputs.length },
  };
}

function response(plan: Plan): Json {
  const output = plan.tool
    ? [
        {
          type: 'function_call',
          id: `fc_${plan.n}`,
          call_id: `call_${plan.n}`,
          name: toolName(plan.body),
          arguments: TOOL_ARGS,
          status: 'completed',
        },
      ]
    : [
        {
          type: 'message',
          id: `msg_${plan.n}`,
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: plan.answer, annotations: [] }],
        },
      ];
  if (plan.reasoning)
    output.unshift({
      type: 'reasoning',
      id: `rs_${plan.n}`,
      summary: [{ type: 'summary_text', text: reasoningOf(plan) }],
    } as never);
  return {
    id: `resp_${plan.n}`,
    object: 'response',
    created_at: 1_700_000_000 + plan.n,
    status: 'completed',
    model: plan.body.model,
    output,
    // What the real Responses object echoes of its request, credentials included.
    tools: plan.body.tools ?? [],
    metadata: plan.body.metadata ?? {},
    user: plan.body.user ?? null,
    store: plan.body.store ?? true,
    usage: { input_tokens: 25, output_tokens: 10, total_tokens: 35 },
  };
}

function streamResponse(plan: Plan): Promise<void> {
  const full = response(plan);
  let seq = 0;
  const ev = (type: string, fields: Json) => sse({ type, sequence_number: seq++, ...fields }, type);
  const pending = { ...full, status: 'in_progress', output: [], usage: null };
  const events = [
    ev('response.created', { response: pending }),
    ev('response.in_progress', { response: pending }),
  ];
  const output = full.output as Json[];
  if (plan.reasoning) {
    const item = output[0]!;
    const at = { item_id: item.id, output_index: 0, summary_index: 0 };
    const text = reasoningOf(plan);
    events.push(ev('response.output_item.added', { output_index: 0, item: { ...item, summary: [] } }));
    events.push(
      ev('response.reasoning_summary_part.added', { ...at, part: { type: 'summary_text', text: '' } }),
    );
    for (const p of pieces(text))
      events.push(ev('response.reasoning_summary_text.delta', { ...at, delta: p }));
    events.push(ev('response.reasoning_summary_text.done', { ...at, text }));
    events.push(ev('response.reasoning_summary_part.done', { ...at, part: { type: 'summary_text', text } }));
    events.push(ev('response.output_item.done', { output_index: 0, item }));
  }
  const index = output.length - 1;
  const item = output[index]!;
  if (item.type === 'message') {
    events.push(
      ev('response.output_item.added', {
        output_index: index,
        item: { ...item, status: 'in_progress', content: [] },
      }),
    );
    events.push(
      ev('response.content_part.added', {
        item_id: item.id,
        output_index: index,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [] },
      }),
    );
    for (const p of pieces(plan.answer))
      events.push(
        ev('response.output_text.delta', {
          item_id: item.id,
          output_index: index,
          content_index: 0,
          delta: p,
          logprobs: [],
        }),
      );
    events.push(
      ev('response.output_text.done', {
        item_id: item.id,
        output_index: index,
        content_index: 0,
        text: plan.answer,
        logprobs: [],
      }),
    );
    events.push(
      ev('response.content_part.done', {
        item_id: item.id,
        output_index: index,
        content_index: 0,
        part: (item.content as Json[])[0],
      }),
    );
  } else {
    events.push(
      ev('response.output_item.added', {
        output_index: index,
        item: { ...item, arguments: '', status: 'in_progress' },
      }),
    );
    events.push(
      ev('response.function_call_arguments.delta', {
        item_id: item.id,
        output_index: index,
        delta: TOOL_ARGS,
      }),
    );
    events.push(
      ev('response.function_call_arguments.done', {
        item_id: item.id,
        output_index: index,
        arguments: TOOL_ARGS,
      }),
    );
  }
  events.push(ev('response.output_item.done', { output_index: index, item }));
  events.push(ev('response.completed', { response: full }));
  return writeStream(
    plan,
    events,
    sse({ type: 'error', code: 'server_error', message: 'fake', sequence_number: 99 }, 'error'),
  );
}

const SIGNATURE = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds';
const CITATION = {
  type: 'char_location',
  cited_text: 'The sky is blue.',
  document_index: 0,
  document_title: 'Sky facts',
  start_char_index: 0,
  end_char_index: 16,
};

function message(plan: Plan): Json {
  const content: Json[] = plan.tool
    ? [{ type: 'tool_use', id: `toolu_${plan.n}`, name: toolName(plan.body), input: JSON.parse(TOOL_ARGS) }]
    : [{ type: 'text', text: plan.answer, ...(plan.citations ? { citations: [CITATION] } : {}) }];
  if (plan.reasoning)
    content.unshift({ type: 'thinking', thinking: reasoningOf(plan), signature: SIGNATURE });
  return {
    id: `msg_${plan.n}`,
    type: 'message',
    role: 'assistant',
    model: plan.body.model,
    content,
    stop_reason: plan.tool ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 25, output_tokens: 10 },
  };
}

function streamMessage(plan: Plan): Promise<void> {
  const full = message(plan);
  const ev = (type: string, fields: Json) => sse({ type, ...fields }, type);
  const events = [
    ev('message_start', {
      message: { ...full, content: [], stop_reason: null, usage: { input_tokens: 25, output_tokens: 1 } },
    }),
  ];
  let index = 0;
  if (plan.reasoning) {
    events.push(
      ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    );
    for (const p of pieces(reasoningOf(plan)))
      events.push(ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: p } }));
    events.push(
      ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: SIGNATURE } }),
    );
    events.push(ev('content_block_stop', { index }));
    index++;
  }
  if (plan.tool) {
    const block = (full.content as Json[]).at(-1)!;
    events.push(ev('content_block_start', { index, content_block: { ...block, input: {} } }));
    events.push(
      ev('content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json: TOOL_ARGS.slice(0, 10) },
      }),
    );
    events.push(
      ev('content_block_delta', {
        index,
        delta: { type: 'input_json_delta', partial_json: TOOL_ARGS.slice(10) },
      }),
    );
  } else {
    events.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
    events.push(sse({ type: 'ping' }, 'ping'));
    if (plan.citations)
      events.push(
        ev('content_block_delta', { index, delta: { type: 'citations_delta', citation: CITATION } }),
      );
    for (const p of pieces(plan.answer))
      events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: p } }));
    if (plan.odd)
      events.push(ev('content_block_delta', { index, delta: { type: 'sparkle_delta', sparkle: 1 } }));
  }
  events.push(ev('content_block_stop', { index }));
  events.push(
    ev('message_delta', {
      delta: { stop_reason: full.stop_reason, stop_sequence: null },
      usage: { output_tokens: 10 },
    }),
  );
  events.push(ev('message_stop', {}));
  return writeStream(
    plan,
    events,
    sse({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'error'),
  );
}
