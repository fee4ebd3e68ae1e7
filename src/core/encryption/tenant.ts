/**
 * Per-tenant keys (the gateway's `encryption: "per-tenant"`): each caller's entries are sealed
 * under a key derived from the credentials it presents, so a stolen database cannot be read
 * without the callers' API keys.
 *
 * The key is HKDF-SHA256 (RFC 5869) of the caller's canonical credential parts, the very list
 * the gateway builds its tenant from (proxy/tenancy.ts, credentialsOf): the raw material, never
 * the tenant's digest, which sits in every row as the namespace. When the config has master keys
 * (`encryption.keys`) the HKDF salt is a master key, so both the master key and the caller's
 * credential are needed to open an entry; without, the salt is empty (RFC 5869 §2.2) and the
 * credential alone opens it.
 *
 * One derived key per master key of the ring, each under its own id (`t-<master id>`, or
 * `t-none`): after `active` moves on, a tenant's old entries still open under the old master
 * key's derivation while new ones are sealed under the active one. `strata rekey` cannot move
 * them (it has no caller's credential); they are rewritten as callers store answers again, or
 * expire.
 */
import { createHash, hkdfSync } from 'node:crypto';
import { KEY_ID_PATTERN, Keyring } from './keyring.js';

/** HKDF's `info`: binds derived keys to this use and version. */
const TENANT_INFO = 'strata-tenant-v1';
/** Prefix of a tenant key's id (a config key id cannot hold `.`, so `-`). */
export const TENANT_KEY_PREFIX = 't-';
const NO_MASTER = 'none';

/** The id a tenant key derived from the master key `masterId` (undefined: none) is written under. */
export function tenantKeyId(masterId: string | undefined): string {
  const id = `${TENANT_KEY_PREFIX}${masterId ?? NO_MASTER}`;
  // A master id of 63-64 characters leaves no room for the prefix: its digest instead.
  return KEY_ID_PATTERN.test(id)
    ? id
    : `${TENANT_KEY_PREFIX}${createHash('sha256').update(masterId!, 'utf8').digest('hex').slice(0, 32)}`;
}

/**
 * Derives tenants' sealers. `masters` is the config's key ring (undefined: no master key); the
 * sealers it gives seal under the derivation of the ring's active key and open under any.
 */
export class TenantKeys {
  /** The caller's sealer by credential text, for the callers seen most recently (HKDF per request is a measurable share of a hit). */
  private readonly memo = new Map<string, Keyring>();

  constructor(private readonly masters: Keyring | undefined) {}

  /** The key id new tenant entries are sealed under. */
  get keyId(): string {
    return tenantKeyId(this.masters?.keyId);
  }

  /**
   * The sealer of the caller presenting `credentials` (credentialsOf's canonical, sorted parts;
   * never empty: a request without credentials has no tenant and is not cached).
   */
  sealerFor(credentials: readonly string[]): Keyring {
    if (credentials.length === 0) throw new TypeError('strata: a tenant key needs at least one credential');
    const text = JSON.stringify(credentials);
    let sealer = this.memo.get(text);
    if (sealer === undefined) {
      sealer = this.derive(text);
      if (this.memo.size >= 1024) this.memo.delete(this.memo.keys().next().value!);
      this.memo.set(text, sealer);
    }
    return sealer;
  }

  private derive(credentials: string): Keyring {
    const ikm = Buffer.from(credentials, 'utf8');
    const keys = new Map<string, Uint8Array>();
    const masters = this.masters;
    if (masters === undefined) keys.set(tenantKeyId(undefined), hkdf(ikm, Buffer.alloc(0)));
    else for (const id of masters.keyIds) keys.set(tenantKeyId(id), hkdf(ikm, masters.keyBytes(id)!));
    return new Keyring(keys, this.keyId);
  }
}

function hkdf(ikm: Uint8Array, salt: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, salt, TENANT_INFO, 32));
}
