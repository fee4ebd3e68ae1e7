/**
 * A fake OpenAI `POST /v1/embeddings` for the gateway's per-input cache tests and benchmark: every
 * input's vector is a function of the model, `dimensions` and the input alone (so a vector served
 * from the cache is recognisably that input's), float or base64 (little-endian float32, as the
 * API sends it), and it records the inputs of every call. It refuses what the API refuses (an
 * input that is none of the four forms, 400) and fails on request: `failNext(status)` makes the
 * next call answer that status with the API's error body.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeEmbeddings {
  readonly url: string;
  /** The inputs of every call answered 200, in order (each call's `input` as a list). */
  readonly calls: unknown[][];
  /** Every request body received, parsed (undefined when it was not JSON). */
  readonly bodies: unknown[];
  /** Inputs embedded over every call. */
  inputs(): number;
  /** The next `times` calls answer `status` (an error body) instead. */
  failNext(status: number, times?: number): void;
  /** Wait this long before each answer (a provider's latency). */
  delayMs: number;
  /** The vector of one input, as float32 values (what a client decodes). */
  vector(model: string, input: unknown, dimensions?: number): number[];
  close(): Promise<void>;
}

const DEFAULT_DIMENSIONS = 8;

/** A deterministic vector of float32 values in (-1, 1) from the input's digest (one SHA-256 per input). */
export function fakeVector(model: string, input: unknown, dimensions = DEFAULT_DIMENSIONS): number[] {
  const seed = createHash('sha256')
    .update(`${model}\u0000${JSON.stringify(input)}`)
    .digest();
  let x = seed.readUInt32LE(0) || 1;
  const out: number[] = new Array(dimensions);
  for (let i = 0; i < dimensions; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = Math.fround(x / 2 ** 31 - 1);
  }
  return out;
}

/** Tokens the fake bills for one input: a token list's length, a string's UTF-8 bytes / 4 (at least 1). */
export function fakeTokens(input: unknown): number {
  return Array.isArray(input) ? input.length : Math.max(1, Math.ceil(Buffer.byteLength(String(input)) / 4));
}

export async function startFakeEmbeddings(): Promise<FakeEmbeddings> {
  const calls: unknown[][] = [];
  const bodies: unknown[] = [];
  const failures: number[] = [];
  const state = { delayMs: 0 };
  let n = 0;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    bodies.push(body);
    const reply = (status: number, value: unknown) => {
      const bytes = Buffer.from(JSON.stringify(value));
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': String(bytes.length),
        'x-request-id': `req_fake_${++n}`,
      });
      res.end(bytes);
    };
    const error = (status: number, message: string) =>
      reply(status, {
        error: {
          message,
          type: status < 500 ? 'invalid_request_error' : 'server_error',
          param: null,
          code: null,
        },
      });
    if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
    if (req.url?.split('?')[0] !== '/v1/embeddings') return error(404, 'no such route');
    const failure = failures.shift();
    if (failure !== undefined) return error(failure, `fake failure ${failure}`);
    if (!body || typeof body.model !== 'string') return error(400, 'body must be JSON with a model');
    const inputs = inputsOf(body.input);
    if (!inputs) return error(400, "'$.input' is invalid");
    const dimensions = typeof body.dimensions === 'number' ? body.dimensions : undefined;
    const base64 = body.encoding_format === 'base64';
    calls.push(inputs);
    const tokens = inputs.reduce((sum: number, input) => sum + fakeTokens(input), 0);
    reply(200, {
      object: 'list',
      data: inputs.map((input, index) => {
        const v = fakeVector(body.model as string, input, dimensions);
        return {
          object: 'embedding',
          index,
          embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
        };
      }),
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    bodies,
    inputs: () => calls.reduce((sum, c) => sum + c.length, 0),
    failNext(status, times = 1) {
      for (let i = 0; i < times; i++) failures.push(status);
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    vector: fakeVector,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The API's four forms of `input`, as a list of inputs; undefined for anything else. */
function inputsOf(input: unknown): unknown[] | undefined {
  const token = (t: unknown) => Number.isSafeInteger(t) && (t as number) >= 0;
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0 || input.length > 2048) return undefined;
  if (input.every((v) => typeof v === 'string')) return input;
  if (input.every(token)) return [input];
  if (input.every((v) => Array.isArray(v) && v.length > 0 && v.every(token))) return input;
  return undefined;
}
