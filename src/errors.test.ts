import { describe, expect, it } from 'vitest';
import {
  CacheMissError,
  OnnxSetupError,
  ServeConfigError,
  SqliteOpenError,
  StrataConfigError,
  StrataError,
  TierConfigError,
  TierTimeoutError,
} from './index.js';
import { createCache } from './langchain/create.js';

describe('errors', () => {
  it('each has a stable code and its own name, and is a StrataError and an Error', () => {
    const all: Array<[StrataError, string, string]> = [
      [
        new StrataConfigError([{ path: 'tiers[0].path', message: 'required' }]),
        'STRATA_CONFIG',
        'StrataConfigError',
      ],
      [new CacheMissError('abcdef0123456789'), 'STRATA_CACHE_MISS', 'CacheMissError'],
      [new ServeConfigError('no token'), 'STRATA_SERVE_CONFIG', 'ServeConfigError'],
      [new TierTimeoutError('redis', 'get', 1000), 'STRATA_TIER_TIMEOUT', 'TierTimeoutError'],
      [new TierConfigError('bad'), 'STRATA_TIER_CONFIG', 'TierConfigError'],
      [new SqliteOpenError('newer'), 'STRATA_SQLITE_OPEN', 'SqliteOpenError'],
      [new OnnxSetupError('no runtime'), 'STRATA_ONNX_SETUP', 'OnnxSetupError'],
    ];
    for (const [error, code, name] of all) {
      expect(error).toBeInstanceOf(StrataError);
      expect(error).toBeInstanceOf(Error);
      expect([error.code, error.name]).toEqual([code, name]);
      expect(String(error)).toMatch(new RegExp(`^${name}: `));
    }
  });

  it('keeps the error it wraps as its cause', () => {
    const cause = new Error('ENOENT: no such file');
    expect(new SqliteOpenError('cannot open', { cause }).cause).toBe(cause);
    expect(new StrataConfigError([{ path: 'tiers[0]', message: 'bad' }], { cause }).cause).toBe(cause);
    expect(new TierConfigError('bad')).not.toHaveProperty('cause');
  });

  it('what createCache throws for a bad config carries STRATA_CONFIG and every issue by path', async () => {
    const error = await createCache({ tiers: [{ type: 'sqlite' } as never] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StrataConfigError);
    expect((error as StrataConfigError).code).toBe('STRATA_CONFIG');
    expect((error as StrataConfigError).issues.map((i) => i.path)).toEqual(['tiers[0].path']);
  });
});
