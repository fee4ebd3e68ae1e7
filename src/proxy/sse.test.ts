import { describe, expect, it } from 'vitest';
import { formatEvent, SseParser } from './sse.js';

describe('SseParser', () => {
  it('reassembles events split anywhere, even inside a UTF-8 character', () => {
    const text = `${formatEvent({ delta: '你好 😀' })}event: message_stop\r\ndata: {"type":"message_stop"}\r\n\r\n: keep-alive\n\ndata: [DONE]\n\n`;
    const bytes = Buffer.from(text, 'utf8');
    for (const size of [1, 2, 3, 7, bytes.length]) {
      const parser = new SseParser();
      const events = [];
      for (let i = 0; i < bytes.length; i += size) events.push(...parser.push(bytes.subarray(i, i + size)));
      expect(
        events.map((e) => [e.event, e.data]),
        `pieces of ${size}`,
      ).toEqual([
        [undefined, JSON.stringify({ delta: '你好 😀' })],
        ['message_stop', '{"type":"message_stop"}'],
        [undefined, '[DONE]'],
      ]);
    }
  });

  it('joins multi-line data and forwards each event in a canonical form', () => {
    const parser = new SseParser();
    const [event] = parser.push('event: x\ndata: a\ndata: b\n\n');
    expect(event).toEqual({ event: 'x', data: 'a\nb', raw: 'event: x\ndata: a\ndata: b\n\n' });
  });
});
