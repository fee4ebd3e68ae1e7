/**
 * Reading a request body with its cost bounded before anything parses it.
 *
 * `JSON.parse` builds every object and array of a body, and the key then writes them all out
 * again: a body of many small containers (`[[[[...]]]]` or `[[],[],...]`) costs 20-30 times its
 * size in memory and seconds of CPU, during which no other client is served (one 32 MB body
 * nested 16M deep: 6 s and 1 GB per parse). So the bytes are scanned as they arrive (strings and escapes aware), and a
 * body that is too large, nested too deeply or holds too many objects and arrays is known before
 * any parse: it is never parsed or keyed, and is forwarded as it is (the upstream says what is
 * wrong with it, if anything). The same scan finds what forwarding needs without a parse (the
 * top-level `model`, for routing, and whether there is a top-level `cache` field) and numbers a
 * double cannot hold (json-numbers.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { RequestError } from '../errors.js';
import { SAFE_DIGITS } from './json-numbers.js';

/**
 * Deepest nesting of a body that is keyed. Real requests nest a few levels (messages, content
 * parts, a JSON schema of a tool: rarely beyond 20); writing the key recurses once per level.
 */
export const MAX_KEYED_DEPTH = 128;

/**
 * Objects and arrays a keyed body may hold: one per this many bytes of `maxKeyedBytes` (131,072
 * at the 8 MiB default). Each costs about 40-70 bytes once parsed (and CPU to build and write
 * out), against 2-3 bytes in the body; real requests hold one per 20 bytes or more
 * (`{"role":"user","content":"..."}`), so this keeps a keyed body within a few times
 * `maxKeyedBytes` in memory, whatever its shape.
 */
export const KEYED_BYTES_PER_CONTAINER = 64;

export interface BodyLimits {
  /** Larger bodies are refused with 413. */
  readonly maxRequestBytes: number;
  /** Larger bodies are forwarded and not keyed. */
  readonly maxKeyedBytes: number;
}

/** A request body, and what the scan learned of it. */
export interface Body {
  readonly raw: Buffer;
  /** Why the body is not to be parsed for a key; undefined when it may be. */
  readonly unkeyed: string | undefined;
  /** A number outside strings has more significant digits than a double keeps (keyable bodies only). */
  readonly impreciseNumber: boolean;
  /** The top-level `model` when it is a string (the last one, as `JSON.parse` keeps); for routing. */
  readonly model: string | undefined;
  /** The body is an object with a top-level `cache` field. */
  readonly hasCache: boolean;
}

/**
 * Reads the whole body, refusing one over `maxRequestBytes` (413) as soon as that is known, and
 * scanning it as it arrives (a small one once whole, when asked). With a Content-Length, a body
 * that arrives in one chunk is that chunk, and one in pieces is copied into one buffer of that
 * size, so the body is held once, not once in pieces and once joined. Read through the stream's
 * events, not an async iterator: a promise per chunk and the iterator's own listeners were a
 * measurable part of a cache hit. The request is destroyed when refused or when it fails, as
 * leaving an iterator early would.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Body> {
  const limit = limits.maxRequestBytes;
  const header = req.headers['content-length'];
  const declared = header === undefined ? Number.NaN : Number(header);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise<Body>((resolve, reject) => {
    new BodyReader(req, limits, declared, resolve, reject);
  });
}

function tooLarge(limit: number): RequestError {
  return new RequestError(`the request body is larger than ${limit} bytes`, 'STRATA_REQUEST_TOO_LARGE');
}

/** One body being read: its handlers are bound methods, not closures made per request. */
class BodyReader {
  // A small body is scanned once whole, and only if asked (a body keyed before never is); a
  // larger one as it arrives, so that its scan is spread over its chunks.
  private scanner: JsonScanner | undefined;
  private whole: Buffer | undefined;
  /** The Content-Length, when there is one (0: none). */
  private readonly declared: number;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly onData = this.data.bind(this);
  private readonly onEnd = this.end.bind(this);
  private readonly onError = this.stop.bind(this);
  private readonly onClose = this.close.bind(this);

  constructor(
    private readonly req: IncomingMessage,
    private readonly limits: BodyLimits,
    declared: number,
    private readonly resolve: (body: Body) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    this.declared = Number.isSafeInteger(declared) && declared > 0 ? declared : 0;
    req.on('data', this.onData);
    req.once('end', this.onEnd);
    req.once('error', this.onError);
    req.once('close', this.onClose);
  }

  private data(chunk: Buffer): void {
    const { size, limits } = this;
    if (size + chunk.length > limits.maxRequestBytes) {
      this.stop(tooLarge(limits.maxRequestBytes));
      return;
    }
    if (this.scanner === undefined && size + chunk.length > SCAN_LATER_BYTES) {
      this.scanner = new JsonScanner(limits.maxKeyedBytes);
      if (this.whole) this.scanner.push(this.whole.subarray(0, size));
      else for (const c of this.chunks) this.scanner.push(c);
    }
    this.scanner?.push(chunk);
    if (size === 0 && this.declared > 0 && chunk.length <= this.declared) {
      // The whole body in one chunk (most are) is kept as it is; else one buffer of the declared size.
      if (chunk.length === this.declared) this.whole = chunk;
      else {
        this.whole = Buffer.allocUnsafe(this.declared);
        chunk.copy(this.whole, 0);
      }
    } else if (this.whole && size + chunk.length <= this.whole.length) chunk.copy(this.whole, size);
    else {
      // More than declared (the HTTP parser does not let that happen): keep the pieces instead.
      if (this.whole) this.chunks.push(this.whole.subarray(0, size));
      this.whole = undefined;
      this.chunks.push(chunk);
    }
    this.size += chunk.length;
  }

  private end(): void {
    this.detach();
    const raw = this.whole ? this.whole.subarray(0, this.size) : Buffer.concat(this.chunks, this.size);
    this.resolve(
      this.scanner ? this.scanner.finish(raw) : new ScannedWhenAsked(raw, this.limits.maxKeyedBytes),
    );
  }

  /** Closed before its end, with no error of its own: what an iterator throws then. */
  private close(): void {
    this.stop(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  }

  private stop(error: unknown): void {
    this.detach();
    this.req.destroy();
    this.reject(error);
  }

  private detach(): void {
    const { req } = this;
    req.off('data', this.onData);
    req.off('end', this.onEnd);
    req.off('error', this.onError);
    req.off('close', this.onClose);
  }
}

/** Bodies up to this size are scanned whole when first asked about, not as they arrive. */
export const SCAN_LATER_BYTES = 64 * 1024;

/** A body read whole whose scan runs when one of its findings is first read, once. */
class ScannedWhenAsked implements Body {
  private found: Body | undefined;

  constructor(
    readonly raw: Buffer,
    private readonly maxKeyedBytes: number,
  ) {}

  get unkeyed(): string | undefined {
    return this.scan().unkeyed;
  }

  get impreciseNumber(): boolean {
    return this.scan().impreciseNumber;
  }

  get model(): string | undefined {
    return this.scan().model;
  }

  get hasCache(): boolean {
    return this.scan().hasCache;
  }

  private scan(): Body {
    if (this.found === undefined) {
      const scanner = new JsonScanner(this.maxKeyedBytes);
      scanner.push(this.raw);
      this.found = scanner.finish(this.raw);
    }
    return this.found;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** A model name is short; a longer `model` routes as none (the upstream answers it). */
const MAX_MODEL_BYTES = 1024;

/** Which top-level member the scan is in: its value is what forwarding needs. */
const Member = { Other: 0, Model: 1, Cache: 2 } as const;
type Member = (typeof Member)[keyof typeof Member];

/**
 * An incremental scan of JSON bytes: structure and number precision, never values. Works on
 * UTF-8 bytes directly: `"` and `\` never occur inside a multi-byte character. Not a validator:
 * whether the body is JSON is for `JSON.parse` (keyed bodies) or the upstream (the rest).
 */
export class JsonScanner {
  private readonly maxContainers: number;
  private offset = 0;
  private inString = false;
  private escaped = false;
  private depth = 0;
  private containers = 0;
  private unkeyed: string | undefined;
  private imprecise = false;
  /** The first byte that is not whitespace: `{` for an object body. */
  private first = 0;
  /** Number state: 0 outside a number, 1 in its mantissa, 2 past it (exponent). */
  private number = 0;
  private digits = 0;
  private leadingZeros = true;
  /** Top-level members: the next string at depth 1 is a key. */
  private expectKey = false;
  private key: number[] | undefined;
  private keyTooLong = false;
  private member: Member = Member.Other;
  /** The member's value is next (after its `:`). */
  private valueNext = false;
  private modelStart = -1;
  private modelRange: [number, number] | undefined;
  private hasCache = false;

  constructor(private readonly maxKeyedBytes: number) {
    this.maxContainers = Math.max(1024, Math.floor(maxKeyedBytes / KEYED_BYTES_PER_CONTAINER));
  }

  push(chunk: Buffer): void {
    const base = this.offset;
    const n = chunk.length;
    this.offset += n;
    if (this.unkeyed === undefined && this.offset > this.maxKeyedBytes)
      this.unkeyed = `the body is larger than maxKeyedBytes (${this.maxKeyedBytes} bytes)`;
    // The hot state in locals (a body of brackets is a loop over every byte), written back at the end.
    let depth = this.depth;
    let containers = this.containers;
    let keyable = this.unkeyed === undefined;
    let i = 0;
    // Where the next quote and backslash are in this chunk (-1: none left), found by indexOf so
    // that string content, most of a body, is skipped at memchr speed.
    let quote = -2;
    let slash = -2;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          if (this.key) this.keyBytes(chunk, i, i + 1);
          this.escaped = false;
          i++;
          continue;
        }
        if (quote !== -1 && quote < i) quote = chunk.indexOf(QUOTE, i);
        if (slash !== -1 && slash < i) slash = chunk.indexOf(BACKSLASH, i);
        if (slash !== -1 && (quote === -1 || slash < quote)) {
          if (this.key) this.keyBytes(chunk, i, slash + 1);
          this.escaped = true;
          i = slash + 1;
          continue;
        }
        if (quote === -1) {
          if (this.key) this.keyBytes(chunk, i, n);
          break;
        }
        if (this.key) this.keyBytes(chunk, i, quote);
        this.inString = false;
        this.stringEnd(base + quote);
        i = quote + 1;
        continue;
      }
      const c = chunk[i]!;
      if (this.number !== 0) {
        if (this.numberByte(c)) {
          i++;
          continue;
        }
        this.number = 0;
        if (this.digits > SAFE_DIGITS) this.imprecise = true;
      }
      switch (c) {
        case 0x5b: // [
        case 0x7b: // {
          if (this.valueNext) this.memberValue();
          else if (this.first === 0) this.first = c;
          if (++depth === 1 && c === 0x7b) this.expectKey = true;
          if (keyable && (++containers > this.maxContainers || depth > MAX_KEYED_DEPTH)) {
            this.unkeyed =
              depth > MAX_KEYED_DEPTH
                ? `the body is nested more than ${MAX_KEYED_DEPTH} levels deep`
                : `the body holds more than ${this.maxContainers} objects and arrays`;
            keyable = false;
          }
          break;
        case 0x5d: // ]
        case 0x7d: // }
          depth--;
          break;
        case 0x2c: // ,
          if (depth === 1 && this.first === 0x7b) this.expectKey = true;
          break;
        case 0x3a: // :
          if (depth === 1) this.valueNext = true;
          break;
        case 0x20:
        case 0x0a:
        case 0x0d:
        case 0x09:
          break;
        case QUOTE: {
          if (this.first === 0) this.first = c;
          const memberValue = this.valueNext && this.memberValue();
          this.inString = true;
          this.stringStart(base + i, depth, memberValue);
          break;
        }
        default:
          if (this.valueNext) this.memberValue();
          else if (this.first === 0) this.first = c;
          if (keyable && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
            this.number = 1;
            this.digits = 0;
            this.leadingZeros = true;
            this.numberByte(c);
          }
      }
      i++;
    }
    this.depth = depth;
    this.containers = containers;
  }

  /** The body is complete: what the scan found. */
  finish(raw: Buffer): Body {
    if (this.number !== 0 && this.digits > SAFE_DIGITS) this.imprecise = true;
    let model: string | undefined;
    if (this.modelRange) {
      const [start, end] = this.modelRange;
      const text = raw.toString('utf8', start, end);
      try {
        model = text.includes('\\') ? (JSON.parse(`"${text}"`) as string) : text;
      } catch {
        model = undefined;
      }
    }
    return {
      raw,
      unkeyed: this.unkeyed,
      impreciseNumber: this.unkeyed === undefined && this.imprecise,
      model,
      hasCache: this.hasCache,
    };
  }

  /** The value of a top-level member begins (after its `:`): true, for `stringStart`. */
  private memberValue(): true {
    this.valueNext = false;
    if (this.member === Member.Cache) this.hasCache = true;
    // A later `model` replaces an earlier one, as in JSON.parse; one that is not a string is none.
    if (this.member === Member.Model) this.modelRange = undefined;
    return true;
  }

  private stringStart(at: number, depth: number, memberValue: boolean): void {
    if (depth === 1 && this.expectKey) {
      this.expectKey = false;
      this.key = [];
      this.keyTooLong = false;
    } else if (memberValue && this.member === Member.Model) this.modelStart = at + 1;
  }

  private stringEnd(at: number): void {
    if (this.key) {
      this.member = this.keyName();
      this.key = undefined;
    } else if (this.modelStart >= 0) {
      this.modelRange = at - this.modelStart <= MAX_MODEL_BYTES ? [this.modelStart, at] : undefined;
      this.modelStart = -1;
    }
  }

  /** Bytes of a top-level key, kept while short enough to be one of the names looked for. */
  private keyBytes(chunk: Buffer, from: number, to: number): void {
    if (!this.key || this.keyTooLong) return;
    if (this.key.length + (to - from) > 64) {
      this.keyTooLong = true;
      return;
    }
    for (let j = from; j < to; j++) this.key.push(chunk[j]!);
  }

  private keyName(): Member {
    const key = this.key;
    if (this.keyTooLong || !key) return Member.Other;
    // Without an escape, the bytes are the name: compared as they are, nothing decoded.
    if (!key.includes(BACKSLASH)) return nameOf(key);
    let name = Buffer.from(key).toString('utf8');
    if (name.includes('\\')) {
      try {
        name = JSON.parse(`"${name}"`) as string;
      } catch {
        return Member.Other;
      }
    }
    return name === 'model' ? Member.Model : name === 'cache' ? Member.Cache : Member.Other;
  }

  /** One byte of a number token; false when the token has ended before it. */
  private numberByte(c: number): boolean {
    if (this.number === 1) {
      if (c >= 0x30 && c <= 0x39) {
        if (c !== 0x30 || !this.leadingZeros) {
          this.leadingZeros = false;
          this.digits++;
        }
        return true;
      }
      if (c === 0x2d || c === 0x2b || c === 0x2e) return true;
      if (c === 0x65 || c === 0x45) {
        this.number = 2;
        return true;
      }
      return false;
    }
    return (c >= 0x30 && c <= 0x39) || c === 0x65 || c === 0x45 || c === 0x2d || c === 0x2b;
  }
}

const MODEL = [...Buffer.from('model')];
const CACHE = [...Buffer.from('cache')];

/** Which member an unescaped top-level key names. */
function nameOf(key: readonly number[]): Member {
  if (key.length !== 5) return Member.Other;
  if (key.every((b, i) => b === MODEL[i])) return Member.Model;
  if (key.every((b, i) => b === CACHE[i])) return Member.Cache;
  return Member.Other;
}

/** The whole body, or undefined (and the body destroyed) once it is larger than `limit`. */
export async function readUpTo(body: Readable, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
