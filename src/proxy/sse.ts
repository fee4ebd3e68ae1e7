/**
 * Server-sent events, both ways: an incremental parser for the upstream's stream (which arrives
 * in arbitrary byte chunks, possibly split mid-line or mid-character) and the writer for the
 * events a hit replays. Only what OpenAI's and Anthropic's streams use: `event:` and `data:`
 * lines, comments ignored, `\n`, `\r\n` or `\r` line ends.
 */
import { StringDecoder } from 'node:string_decoder';

export interface SseEvent {
  /** The `event:` field; undefined when the stream names none (OpenAI's chat completions). */
  readonly event: string | undefined;
  readonly data: string;
  /** The event exactly as it arrived, re-serialized in a canonical form for forwarding. */
  readonly raw: string;
}

export class SseParser {
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  /** How much of `buffer` is known to hold no line end: a long line is scanned once, not per chunk. */
  private scanned = 0;
  private event: string | undefined;
  private data: string[] = [];
  private lines: string[] = [];

  /** Feeds one chunk of the byte stream; returns the events it completed. */
  push(chunk: Buffer | string): SseEvent[] {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const done: SseEvent[] = [];
    let start = 0;
    const ends = /\r\n|\r|\n/g;
    ends.lastIndex = this.scanned;
    for (;;) {
      const found = ends.exec(this.buffer);
      if (!found) break;
      const end = found.index;
      // A lone \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (this.buffer[end] === '\r' && end + 1 === this.buffer.length) break;
      const line = this.buffer.slice(start, end);
      start = end + found[0].length;
      const event = this.line(line);
      if (event) done.push(event);
    }
    this.buffer = this.buffer.slice(start);
    // Everything left but a trailing \r holds no line end; the next push scans from there.
    this.scanned = Math.max(0, this.buffer.length - (this.buffer.endsWith('\r') ? 1 : 0));
    return done;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.data.length === 0 && this.event === undefined) return undefined;
      const event: SseEvent = {
        event: this.event,
        data: this.data.join('\n'),
        raw: `${this.lines.join('\n')}\n\n`,
      };
      this.event = undefined;
      this.data = [];
      this.lines = [];
      return event;
    }
    if (line.startsWith(':')) return undefined;
    this.lines.push(line);
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    return undefined;
  }
}

/** One event as the APIs write it: `event:` when named, then one `data:` line of JSON. */
export function formatEvent(data: unknown, event?: string): string {
  const body = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event === undefined ? '' : `event: ${event}\n`}data: ${body}\n\n`;
}
