/**
 * Sealing entry payloads at rest: AES-256-GCM under a key set's active key.
 *
 * A sealed payload is `~s1.<key id>.<base64url(iv12 ‖ ciphertext ‖ tag16)>`. The prefix cannot
 * start a plain payload (those are JSON and start with `{`), so a reader tells the two apart
 * without trying to decrypt. The key id travels in clear so that old keys keep opening old
 * entries after `active` moves on; it is also bound into the associated data, so a payload whose
 * id was edited to point at another key fails to open. The caller's `aad` (the manager passes the
 * namespace and the entry's key hash) is bound too: a payload copied to another row does not open
 * there. Anything that does not open is `undefined`, never an exception: the manager counts it as
 * corrupt, a miss.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import { StrataConfigError } from '../../errors.js';

/** Seals and opens entry payloads; one per key set (config) or per tenant (gateway). */
export interface Sealer {
  /** Id of the key new payloads are sealed under (written into every sealed payload). */
  readonly keyId: string;
  /** AES-256-GCM under the active key; `aad` is bound to the ciphertext (key id is added to it by the sealer). */
  seal(plain: string, aad: string): string;
  /** The plain text, or undefined when it cannot be opened (unknown key id, wrong key, tampered, not sealed). Never throws. */
  open(sealed: string, aad: string): string | undefined;
}

/** `encryption` in the config: where each key's bytes are (an environment variable) and which one seals. */
export interface EncryptionConfig {
  keys: { id: string; keyEnv: string }[];
  active: string;
  /** Whether plain (unsealed) payloads already in a store may still answer; see docs/encryption.md. */
  acceptPlaintext?: boolean;
}

/** What every sealed payload starts with; `s1` is the format's version. */
export const SEALED_PREFIX = '~s1.';
/** What a key id may be: it is written in clear into every payload, between two dots. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const AAD_DOMAIN = 'strata-seal-v1\0';

/**
 * IVs are taken from a pool of random bytes refilled 256 IVs at a time: a small randomBytes call
 * costs several microseconds, more than the rest of a seal. Each IV is used once, and copied into
 * the payload before the pool is refilled.
 */
const ivPool = Buffer.allocUnsafe(IV_BYTES * 256);
let ivAt = ivPool.length;

function freshIv(): Buffer {
  if (ivAt + IV_BYTES > ivPool.length) {
    randomFillSync(ivPool);
    ivAt = 0;
  }
  const iv = ivPool.subarray(ivAt, ivAt + IV_BYTES);
  ivAt += IV_BYTES;
  return iv;
}

/** Whether a payload is sealed (by its prefix; says nothing of whether it opens). */
export function isSealed(payload: string): boolean {
  return payload.startsWith(SEALED_PREFIX);
}

/** The id of the key a sealed payload was sealed under; undefined for anything else. */
export function sealedKeyId(payload: string): string | undefined {
  if (!isSealed(payload)) return undefined;
  const end = payload.indexOf('.', SEALED_PREFIX.length);
  if (end < 0) return undefined;
  const id = payload.slice(SEALED_PREFIX.length, end);
  return KEY_ID_PATTERN.test(id) ? id : undefined;
}

/** The associated data GCM authenticates: a domain tag, the key id and the caller's aad. */
function boundAad(keyId: string, aad: string): Buffer {
  return Buffer.from(`${AAD_DOMAIN}${keyId}\0${aad}`, 'utf8');
}

/** Seals under one key; opens with whichever key of the set a payload names. */
export class Keyring implements Sealer {
  readonly keyId: string;
  readonly #keys: ReadonlyMap<string, Uint8Array>;

  /**
   * A key set from the config: each key's bytes are read from its environment variable, as 32
   * bytes in base64 (or base64url) or 64 hex digits. Throws StrataConfigError naming the field.
   */
  static fromConfig(config: EncryptionConfig, env: NodeJS.ProcessEnv = process.env): Keyring {
    const keys = new Map<string, Uint8Array>();
    const issues: { path: string; message: string }[] = [];
    config.keys.forEach((k, i) => {
      if (!KEY_ID_PATTERN.test(k.id)) {
        issues.push({
          path: `encryption.keys[${i}].id`,
          message: `"${k.id}" is not 1-64 of A-Z a-z 0-9 _ -`,
        });
        return;
      }
      if (keys.has(k.id)) {
        issues.push({ path: `encryption.keys[${i}].id`, message: `"${k.id}" is listed twice` });
        return;
      }
      const raw = env[k.keyEnv];
      if (raw === undefined || raw.trim() === '') {
        issues.push({
          path: `encryption.keys[${i}].keyEnv`,
          message: `environment variable ${k.keyEnv} is not set`,
        });
        return;
      }
      const bytes = parseKey(raw.trim());
      if (!bytes) {
        issues.push({
          path: `encryption.keys[${i}].keyEnv`,
          message: `${k.keyEnv} is not a 32-byte key (44 characters of base64 or 64 hex digits)`,
        });
        return;
      }
      keys.set(k.id, bytes);
    });
    if (issues.length === 0 && !keys.has(config.active)) {
      issues.push({
        path: 'encryption.active',
        message: `"${config.active}" is not one of encryption.keys' ids`,
      });
    }
    if (issues.length > 0) throw new StrataConfigError(issues);
    return new Keyring(keys, config.active);
  }

  constructor(keys: ReadonlyMap<string, Uint8Array>, active: string) {
    for (const [id, bytes] of keys) {
      if (!KEY_ID_PATTERN.test(id))
        throw new TypeError(`strata: key id "${id}" is not 1-64 of A-Z a-z 0-9 _ -`);
      if (bytes.length !== KEY_BYTES)
        throw new TypeError(`strata: key "${id}" is ${bytes.length} bytes, not 32`);
    }
    if (!keys.has(active)) throw new TypeError(`strata: active key "${active}" is not in the key set`);
    // Own copies: the caller's buffers may be reused or zeroed.
    this.#keys = new Map([...keys].map(([id, b]) => [id, Uint8Array.from(b)]));
    this.keyId = active;
  }

  /** Raw key bytes by id (for deriving per-tenant keys); undefined for an unknown id. */
  keyBytes(id: string): Uint8Array | undefined {
    const bytes = this.#keys.get(id);
    return bytes && Uint8Array.from(bytes);
  }

  /** The ids of every key this ring can open with. */
  get keyIds(): readonly string[] {
    return [...this.#keys.keys()];
  }

  seal(plain: string, aad: string): string {
    const key = this.#keys.get(this.keyId)!;
    const iv = freshIv();
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(boundAad(this.keyId, aad));
    const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED_PREFIX}${this.keyId}.${body.toString('base64url')}`;
  }

  open(sealed: string, aad: string): string | undefined {
    const id = sealedKeyId(sealed);
    if (id === undefined) return undefined;
    const key = this.#keys.get(id);
    if (!key) return undefined;
    const encoded = sealed.slice(SEALED_PREFIX.length + id.length + 1);
    // Node's base64url decoder skips characters it does not know; refuse them instead, so that
    // only one text opens to a given payload.
    if (!/^[A-Za-z0-9_-]*$/.test(encoded)) return undefined;
    const body = Buffer.from(encoded, 'base64url');
    if (body.length < IV_BYTES + TAG_BYTES || body.toString('base64url') !== encoded) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(boundAad(id, aad));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return plain.toString('utf8');
    } catch {
      return undefined;
    }
  }
}

/** 32 key bytes from 64 hex digits or base64 / base64url; undefined for anything else. */
export function parseKey(text: string): Uint8Array | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Uint8Array.from(Buffer.from(text, 'hex'));
  if (!/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(text)) return undefined;
  const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === KEY_BYTES ? Uint8Array.from(bytes) : undefined;
}
