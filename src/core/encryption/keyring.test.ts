import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StrataConfigError } from '../../errors.js';
import { isSealed, Keyring, parseKey, SEALED_PREFIX, sealedKeyId } from './keyring.js';

const k1 = randomBytes(32);
const k2 = randomBytes(32);
const ring = (active = 'k1') =>
  new Keyring(
    new Map([
      ['k1', k1],
      ['k2', k2],
    ]),
    active,
  );
const PLAIN = '{"v":1,"k":"abc"}\n[{"text":"答案 canary 🦊"}]\n{"llm":"m","prompt":"问题"}';
const AAD = 'ns\0abc';

function configError(fn: () => unknown): StrataConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StrataConfigError);
    return error as StrataConfigError;
  }
  throw new Error('did not throw');
}

describe('Keyring', () => {
  it('seals to a prefixed payload that opens to the same text and hides it', () => {
    const r = ring();
    const sealed = r.seal(PLAIN, AAD);
    expect(sealed.startsWith(`${SEALED_PREFIX}k1.`)).toBe(true);
    expect(isSealed(sealed)).toBe(true);
    expect(isSealed(PLAIN)).toBe(false);
    expect(sealedKeyId(sealed)).toBe('k1');
    expect(sealed).not.toContain('canary');
    expect(sealed).not.toContain(Buffer.from('canary').toString('base64').slice(0, 6));
    expect(r.open(sealed, AAD)).toBe(PLAIN);
    // a fresh IV each time: the same text never seals to the same bytes
    expect(r.seal(PLAIN, AAD)).not.toBe(sealed);
    expect(r.open(r.seal('', AAD), AAD)).toBe('');
  });

  it('does not open under another aad (a payload moved to another row or key)', () => {
    const r = ring();
    const sealed = r.seal(PLAIN, AAD);
    expect(r.open(sealed, 'ns\0abd')).toBeUndefined();
    expect(r.open(sealed, 'other\0abc')).toBeUndefined();
    expect(r.open(sealed, '')).toBeUndefined();
  });

  it('does not open with a wrong key, an unknown key id, or an edited key id', () => {
    const sealed = ring().seal(PLAIN, AAD);
    const wrong = new Keyring(new Map([['k1', randomBytes(32)]]), 'k1');
    expect(wrong.open(sealed, AAD)).toBeUndefined();
    const other = new Keyring(new Map([['k9', k1]]), 'k9');
    expect(other.open(sealed, AAD)).toBeUndefined();
    // the id names k2, whose bytes are there, but the payload was sealed under k1 with k1 in the aad
    expect(ring().open(sealed.replace('~s1.k1.', '~s1.k2.'), AAD)).toBeUndefined();
    // same bytes under another id: the id is bound, so this fails too
    const renamed = new Keyring(new Map([['k2', k1]]), 'k2');
    expect(renamed.open(sealed.replace('~s1.k1.', '~s1.k2.'), AAD)).toBeUndefined();
  });

  it('opens old entries with an old key after active moves on, and seals new ones under the new key', () => {
    const before = ring('k1').seal(PLAIN, AAD);
    const after = ring('k2');
    expect(after.keyId).toBe('k2');
    expect(after.open(before, AAD)).toBe(PLAIN);
    const fresh = after.seal(PLAIN, AAD);
    expect(sealedKeyId(fresh)).toBe('k2');
    // a ring that dropped k1 no longer opens what k1 sealed
    expect(new Keyring(new Map([['k2', k2]]), 'k2').open(before, AAD)).toBeUndefined();
  });

  it('a flipped bit anywhere (prefix, key id, iv, ciphertext, tag) does not open', () => {
    const r = ring();
    const sealed = r.seal(PLAIN, AAD);
    const body = Buffer.from(sealed.slice(`${SEALED_PREFIX}k1.`.length), 'base64url');
    const head = `${SEALED_PREFIX}k1.`;
    // every bit of the binary body: iv (0-11), ciphertext, tag (last 16)
    for (let byte = 0; byte < body.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Buffer.from(body);
        flipped[byte]! ^= 1 << bit;
        expect(r.open(head + flipped.toString('base64url'), AAD)).toBeUndefined();
      }
    }
    // every bit of every character of the text form (prefix, id, dots, base64 text)
    for (let i = 0; i < sealed.length; i++) {
      for (let bit = 0; bit < 7; bit++) {
        const c = String.fromCharCode(sealed.charCodeAt(i) ^ (1 << bit));
        const edited = sealed.slice(0, i) + c + sealed.slice(i + 1);
        expect(r.open(edited, AAD)).toBeUndefined();
      }
    }
  });

  it('does not open truncated, extended, plain or malformed payloads, and never throws', () => {
    const r = ring();
    const sealed = r.seal(PLAIN, AAD);
    for (const bad of [
      PLAIN,
      '',
      SEALED_PREFIX,
      `${SEALED_PREFIX}k1`,
      `${SEALED_PREFIX}k1.`,
      `${SEALED_PREFIX}k1.AAAA`,
      sealed.slice(0, -1),
      sealed.slice(0, -4),
      `${sealed}A`,
      `${sealed}==`,
      `${sealed} `,
      `${sealed.slice(0, 30)}\n${sealed.slice(30)}`,
      sealed.replace('~s1.', '~s2.'),
      `${SEALED_PREFIX}${'x'.repeat(65)}.${sealed.split('.')[2]}`,
    ]) {
      expect(r.open(bad, AAD)).toBeUndefined();
    }
    expect(sealedKeyId(PLAIN)).toBeUndefined();
    expect(sealedKeyId(`${SEALED_PREFIX}k1`)).toBeUndefined();
  });

  it('keyBytes gives a copy of a key by id', () => {
    const r = ring();
    const bytes = r.keyBytes('k2')!;
    expect(Buffer.from(bytes).equals(k2)).toBe(true);
    bytes.fill(0);
    expect(Buffer.from(r.keyBytes('k2')!).equals(k2)).toBe(true);
    expect(r.keyBytes('nope')).toBeUndefined();
    expect(r.keyIds).toEqual(['k1', 'k2']);
  });

  it('refuses a key set it cannot use', () => {
    expect(() => new Keyring(new Map([['k1', randomBytes(16)]]), 'k1')).toThrow(/16 bytes/);
    expect(() => new Keyring(new Map([['k1', k1]]), 'k2')).toThrow(/active key "k2"/);
    expect(() => new Keyring(new Map([['a.b', k1]]), 'a.b')).toThrow(/key id/);
  });
});

describe('Keyring.fromConfig', () => {
  const env = {
    KEY_HEX: k1.toString('hex'),
    KEY_B64: k2.toString('base64'),
    KEY_B64URL: k2.toString('base64url'),
    SHORT: randomBytes(16).toString('base64'),
    GARBAGE: 'not a key at all',
  };

  it('reads keys from hex, base64 and base64url', () => {
    const r = Keyring.fromConfig(
      {
        keys: [
          { id: 'a', keyEnv: 'KEY_HEX' },
          { id: 'b', keyEnv: 'KEY_B64' },
          { id: 'c', keyEnv: 'KEY_B64URL' },
        ],
        active: 'b',
      },
      env,
    );
    expect(r.keyId).toBe('b');
    expect(Buffer.from(r.keyBytes('a')!).equals(k1)).toBe(true);
    expect(Buffer.from(r.keyBytes('b')!).equals(k2)).toBe(true);
    expect(Buffer.from(r.keyBytes('c')!).equals(k2)).toBe(true);
  });

  it('names the field of a missing variable, a wrong length, a duplicate id and an unknown active id', () => {
    const missing = configError(() =>
      Keyring.fromConfig(
        {
          keys: [
            { id: 'a', keyEnv: 'KEY_HEX' },
            { id: 'b', keyEnv: 'NOT_SET_ANYWHERE' },
          ],
          active: 'a',
        },
        env,
      ),
    );
    expect(missing.issues).toEqual([
      { path: 'encryption.keys[1].keyEnv', message: expect.stringMatching(/NOT_SET_ANYWHERE is not set/) },
    ]);
    for (const name of ['SHORT', 'GARBAGE']) {
      const e = configError(() =>
        Keyring.fromConfig({ keys: [{ id: 'a', keyEnv: name }], active: 'a' }, env),
      );
      expect(e.issues[0]).toEqual({
        path: 'encryption.keys[0].keyEnv',
        message: expect.stringMatching(/not a 32-byte key/),
      });
      // the message never echoes the variable's value
      expect(e.message).not.toContain(env[name as keyof typeof env]);
    }
    const dup = configError(() =>
      Keyring.fromConfig(
        {
          keys: [
            { id: 'a', keyEnv: 'KEY_HEX' },
            { id: 'a', keyEnv: 'KEY_B64' },
          ],
          active: 'a',
        },
        env,
      ),
    );
    expect(dup.issues[0]!.path).toBe('encryption.keys[1].id');
    const active = configError(() =>
      Keyring.fromConfig({ keys: [{ id: 'a', keyEnv: 'KEY_HEX' }], active: 'z' }, env),
    );
    expect(active.issues[0]!.path).toBe('encryption.active');
  });
});

describe('parseKey', () => {
  it('takes exactly 32 bytes', () => {
    expect(parseKey('00'.repeat(32))?.length).toBe(32);
    expect(parseKey('00'.repeat(31))).toBeUndefined();
    expect(parseKey(randomBytes(33).toString('base64'))).toBeUndefined();
    expect(parseKey(randomBytes(32).toString('base64'))?.length).toBe(32);
  });
});
