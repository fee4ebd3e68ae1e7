/** The usage rewrite of hits on its own: which numbers, which events, and what is left alone. */
import { describe, expect, it } from 'vitest';
import { hitEvent, hitObject, zeroUsage } from './hit-usage.js';
import { formatEvent } from './sse.js';

describe('zeroUsage', () => {
  it('zeroes every number at any depth and keeps every other value and key', () => {
    expect(
      zeroUsage({
        input_tokens: 7,
        nested: { a: 1, list: [2, { b: 3 }] },
        service_tier: 'priority',
        missing: null,
      }),
    ).toEqual({
      input_tokens: 0,
      nested: { a: 0, list: [0, { b: 0 }] },
      service_tier: 'priority',
      missing: null,
    });
  });
});

describe('hitObject', () => {
  it('puts the stored usage under strata and leaves an object without usage as it is', () => {
    const response = { id: 'x', usage: { prompt_tokens: 3, total_tokens: 3 } };
    expect(hitObject(response)).toEqual({
      id: 'x',
      usage: { prompt_tokens: 0, total_tokens: 0 },
      strata: { cache: 'hit', usage: response.usage },
    });
    const bare = { id: 'y', usage: null };
    expect(hitObject(bare)).toBe(bare);
  });
});

describe('hitEvent', () => {
  it('leaves events without usage byte for byte, also a usage key that is null or in text', () => {
    for (const raw of [
      formatEvent({ choices: [{ delta: { content: 'the "usage" field' } }] }),
      formatEvent({ choices: [], usage: null }),
      formatEvent('[DONE]'),
      'event: ping\ndata: {"type":"ping"}\n\n',
      'data: {"usage": not json\n\n',
    ])
      expect(hitEvent(raw)).toBe(raw);
  });

  it('rewrites usage on the event, on its message or on its response, keeping its event line', () => {
    const chunk = JSON.parse(
      hitEvent(formatEvent({ choices: [], usage: { prompt_tokens: 4 } })).slice('data: '.length),
    );
    expect(chunk).toEqual({
      choices: [],
      usage: { prompt_tokens: 0 },
      strata: { cache: 'hit', usage: { prompt_tokens: 4 } },
    });

    const start = hitEvent(
      formatEvent(
        { type: 'message_start', message: { id: 'm', usage: { input_tokens: 9 } } },
        'message_start',
      ),
    );
    expect(start.startsWith('event: message_start\ndata: ')).toBe(true);
    expect(start.endsWith('\n\n')).toBe(true);
    expect(JSON.parse(start.split('\n')[1]!.slice('data: '.length)).message).toEqual({
      id: 'm',
      usage: { input_tokens: 0 },
      strata: { cache: 'hit', usage: { input_tokens: 9 } },
    });

    const completed = hitEvent(
      formatEvent(
        { type: 'response.completed', response: { usage: { output_tokens: 2 } } },
        'response.completed',
      ),
      { input_tokens: 1, output_tokens: 2 },
    );
    // In a replay the whole stored usage is under strata, whatever part the event carries.
    expect(JSON.parse(completed.split('\n')[1]!.slice('data: '.length)).response.strata).toEqual({
      cache: 'hit',
      usage: { input_tokens: 1, output_tokens: 2 },
    });
  });

  it('joins an event split over several data lines into one, in place', () => {
    const raw = 'id: 7\ndata: {"choices":[],\ndata: "usage":{"total_tokens":5}}\nretry: 10\n\n';
    expect(hitEvent(raw)).toBe(
      'id: 7\ndata: {"choices":[],"usage":{"total_tokens":0},"strata":{"cache":"hit","usage":{"total_tokens":5}}}\nretry: 10\n\n',
    );
  });
});
