import { Readable } from 'node:stream';
import { errors } from 'undici';
import { describe, expect, it } from 'vitest';
import { RequestError, StrataError, UpstreamError } from '../errors.js';
import { readBody } from './body.js';
import { controlsOf } from './controls.js';
import { openaiChat } from './endpoints/openai-chat.js';
import { asUpstreamError } from './upstream.js';

describe('the gateway errors', () => {
  it('a refused request is a coded StrataError whose status follows from its code', async () => {
    const body = async function* () {
      yield Buffer.from('{"model":"x","messages":[]}');
    };
    const tooLarge = await readBody(Object.assign(Readable.from(body()), { headers: {} }) as never, {
      maxRequestBytes: 10,
      maxKeyedBytes: 10,
    }).catch((e: unknown) => e);
    const noMessages = (() => {
      try {
        openaiChat.canonical({ model: 'x' }, {});
      } catch (e) {
        return e;
      }
    })();
    for (const [error, code, status] of [
      [tooLarge, 'STRATA_REQUEST_TOO_LARGE', 413],
      [noMessages, 'STRATA_REQUEST_NO_MESSAGES', 400],
    ] as const) {
      expect(error).toBeInstanceOf(RequestError);
      expect(error).toBeInstanceOf(StrataError);
      const { name, code: actual, status: actualStatus } = error as RequestError;
      expect([name, actual, actualStatus]).toEqual(['RequestError', code, status]);
    }
    expect(() => controlsOf('max-age=soon', undefined)).toThrow(RequestError);
  });

  it('an upstream failure keeps what undici threw as its cause, coded by what happened', () => {
    const timeout = new errors.HeadersTimeoutError();
    const stalled = new errors.BodyTimeoutError();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const seen = [timeout, stalled, refused].map((e) => {
      const failure = asUpstreamError(e);
      expect(failure).toBeInstanceOf(StrataError);
      expect(failure.cause).toBe(e);
      return [failure.name, failure.code, failure.status, failure.message];
    });
    expect(seen).toEqual([
      ['UpstreamError', 'STRATA_UPSTREAM_TIMEOUT', 504, 'the upstream did not answer in time'],
      ['UpstreamError', 'STRATA_UPSTREAM_STALLED', 504, 'the upstream stalled mid-response'],
      [
        'UpstreamError',
        'STRATA_UPSTREAM_UNREACHABLE',
        502,
        'the upstream could not be reached (ECONNREFUSED)',
      ],
    ]);
    const again = new UpstreamError('x', 'STRATA_UPSTREAM_UNREACHABLE');
    expect(asUpstreamError(again)).toBe(again);
  });
});
