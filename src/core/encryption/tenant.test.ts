import { hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Keyring, sealedKeyId } from './keyring.js';
import { TenantKeys, tenantKeyId } from './tenant.js';

const alice = ['authorization:bearer sk-alice-0123456789'];
const bob = ['authorization:bearer sk-bob-0123456789'];
const aad = `gw/key:abc\0${'f'.repeat(64)}`;

function ring(entries: Array<[string, Uint8Array]>, active: string): Keyring {
  return new Keyring(new Map(entries), active);
}

describe('per-tenant keys', () => {
  it('one tenant cannot open what another sealed', () => {
    const keys = new TenantKeys(undefined);
    const sealed = keys.sealerFor(alice).seal('the answer', aad);
    expect(keys.sealerFor(alice).open(sealed, aad)).toBe('the answer');
    expect(keys.sealerFor(bob).open(sealed, aad)).toBeUndefined();
    expect(sealedKeyId(sealed)).toBe('t-none');
  });

  it('is HKDF-SHA256 of the credential parts, salted with the master key, info strata-tenant-v1', () => {
    const master = randomBytes(32);
    const keys = new TenantKeys(ring([['k1', master]], 'k1'));
    const expected = new Uint8Array(
      hkdfSync('sha256', Buffer.from(JSON.stringify(alice)), master, 'strata-tenant-v1', 32),
    );
    expect(keys.sealerFor(alice).keyBytes('t-k1')).toEqual(expected);
    expect(keys.keyId).toBe('t-k1');
  });

  it('needs the master key too: the same credential under another master key does not open', () => {
    const one = new TenantKeys(ring([['k1', randomBytes(32)]], 'k1'));
    const other = new TenantKeys(ring([['k1', randomBytes(32)]], 'k1'));
    const sealed = one.sealerFor(alice).seal('the answer', aad);
    expect(other.sealerFor(alice).open(sealed, aad)).toBeUndefined();
    expect(new TenantKeys(undefined).sealerFor(alice).open(sealed, aad)).toBeUndefined();
  });

  it('after the master key rotates, old tenant entries open and new ones are sealed under the active one', () => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const before = new TenantKeys(ring([['k1', k1]], 'k1'));
    const old = before.sealerFor(alice).seal('old answer', aad);
    const after = new TenantKeys(
      ring(
        [
          ['k1', k1],
          ['k2', k2],
        ],
        'k2',
      ),
    );
    expect(after.sealerFor(alice).open(old, aad)).toBe('old answer');
    expect(sealedKeyId(after.sealerFor(alice).seal('new', aad))).toBe('t-k2');
  });

  it('a derived key is bound to the entry: another row does not open', () => {
    const sealer = new TenantKeys(undefined).sealerFor(alice);
    const sealed = sealer.seal('the answer', aad);
    expect(sealer.open(sealed, `gw/key:abc\0${'e'.repeat(64)}`)).toBeUndefined();
  });

  it('refuses an empty credential list (such requests have no tenant)', () => {
    expect(() => new TenantKeys(undefined).sealerFor([])).toThrow(/credential/);
  });

  it('keeps key ids valid for long master ids', () => {
    expect(tenantKeyId('k1')).toBe('t-k1');
    expect(tenantKeyId(undefined)).toBe('t-none');
    expect(tenantKeyId('x'.repeat(64))).toMatch(/^t-[0-9a-f]{32}$/);
  });
});
