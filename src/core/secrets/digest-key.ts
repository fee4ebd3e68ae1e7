/**
 * The digest key: the HMAC key every marker of a secret-by-name and every keyed digest is made
 * with. Read once from STRATA_DIGEST_KEY (or the variable the config's `digestKeyEnv` names), else
 * a random key of this process whose first use warns, because digests made with it mean nothing
 * to another process or after a restart.
 */
import * as crypto from 'node:crypto';
import { StrataConfigError } from '../../errors.js';

/** The environment variable the digest key is read from unless the config names another. */
export const DIGEST_KEY_ENV = 'STRATA_DIGEST_KEY';
/** Shortest digest key accepted, in bytes (UTF-8 of the variable's value). */
const MIN_DIGEST_KEY_BYTES = 32;
export const EPHEMERAL_DIGEST_WARNING = 'digest-key-ephemeral' as const;

interface DigestKey {
  readonly key: Buffer;
  /** A random key of this process: digests made with it mean nothing to another process. */
  readonly ephemeral: boolean;
  /** Why the key is random, for the warning. */
  readonly why?: string;
}

let digestKeyState: DigestKey | undefined;
let generation = 0;
let ephemeralWarning: { message: string; delivered: boolean } | undefined;
const ephemeralListeners = new Set<(message: string) => void>();

/** Why `value` cannot be a digest key, or undefined. */
function digestKeyProblem(value: string | Uint8Array, source = DIGEST_KEY_ENV): string | undefined {
  const bytes = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
  if (bytes >= MIN_DIGEST_KEY_BYTES) return undefined;
  return `the environment variable ${source} holds ${bytes} bytes; a digest key needs at least ${MIN_DIGEST_KEY_BYTES} (e.g. the output of \`openssl rand -hex 32\`)`;
}

function randomKey(why: string): DigestKey {
  return { key: crypto.randomBytes(32), ephemeral: true, why };
}

/** The key in use; on first use read from STRATA_DIGEST_KEY, else random. */
function digestKey(): DigestKey {
  if (digestKeyState) return digestKeyState;
  const value = process.env[DIGEST_KEY_ENV];
  if (value === undefined || value === '') digestKeyState = randomKey(`${DIGEST_KEY_ENV} is not set`);
  else if (digestKeyProblem(value) !== undefined)
    digestKeyState = randomKey(`${DIGEST_KEY_ENV} is shorter than ${MIN_DIGEST_KEY_BYTES} bytes`);
  else digestKeyState = { key: Buffer.from(value, 'utf8'), ephemeral: false };
  return digestKeyState;
}

/**
 * Sets the digest key (`undefined`: a new random key of this process). Changing the key changes
 * every marker, so memos of sanitized keys must be dropped: `digestKeyGeneration()` tells them.
 * Throws a TypeError for a key shorter than MIN_DIGEST_KEY_BYTES.
 */
export function setDigestKey(key: string | Uint8Array | undefined): void {
  if (key === undefined) {
    replaceDigestKey(randomKey('the digest key was reset to a random one'));
    return;
  }
  const problem = digestKeyProblem(key, 'digest key');
  if (problem)
    throw new StrataConfigError([
      {
        path: 'digestKey',
        message: problem.replace('the environment variable digest key', 'the digest key'),
      },
    ]);
  const next = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  if (digestKeyState && !digestKeyState.ephemeral && digestKeyState.key.equals(next)) return;
  replaceDigestKey({ key: next, ephemeral: false });
}

function replaceDigestKey(next: DigestKey): void {
  if (digestKeyState !== undefined) generation++;
  digestKeyState = next;
  ephemeralWarning = undefined;
}

/**
 * createCache's part: takes the key from `env[name]` when it is set (returns the problem when it
 * is too short, without changing anything); when it is not set, the process keeps the key it has
 * (a random one unless something set one), so caches of one process always agree.
 */
export function useDigestKeyFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name];
  if (value === undefined || value === '') {
    digestKeyState ??= randomKey(`${name} is not set`);
    return undefined;
  }
  const problem = digestKeyProblem(value, name);
  if (problem) return problem;
  setDigestKey(value);
  return undefined;
}

/**
 * HMAC-SHA-256 under the digest key of `value` in a domain of its own (32 hex): for identifiers
 * made of secrets (the gateway's tenants) that must be stable, not guessable from the store, and
 * never equal to a marker of the same value.
 */
export function keyedDigest(domain: string, value: string): string {
  return crypto
    .createHmac('sha256', digestKey().key)
    .update(`${domain}\u0000${value}`, 'utf16le')
    .digest('hex')
    .slice(0, 32);
}

/** Why the digest key is this process's random one (digests will not survive a restart), or undefined. */
export function ephemeralDigestKey(): string | undefined {
  const key = digestKey();
  return key.ephemeral ? key.why : undefined;
}

/** Changes whenever the digest key is replaced: what memos of sanitized llmKeys are keyed by. */
export function digestKeyGeneration(): number {
  return generation;
}

/**
 * Called once with the warning when a value is first digested under a random per-process key
 * (or at once, if that happened before anyone listened). Returns the unsubscribe function.
 */
export function onEphemeralDigest(listener: (message: string) => void): () => void {
  ephemeralListeners.add(listener);
  if (ephemeralWarning && !ephemeralWarning.delivered) deliverEphemeralWarning();
  return () => {
    ephemeralListeners.delete(listener);
  };
}

function deliverEphemeralWarning(): void {
  if (!ephemeralWarning || ephemeralListeners.size === 0) return;
  ephemeralWarning.delivered = true;
  for (const listener of ephemeralListeners) {
    try {
      listener(ephemeralWarning.message);
    } catch {
      // a listener's failure must not fail key derivation
    }
  }
}

/**
 * The key for a marker of a secret: the first marker made under a random key warns. (keyedDigest
 * does not: its caller, the gateway's tenancy, checks ephemeralDigestKey() when it starts.)
 */
export function markerDigestKey(): Buffer {
  const key = digestKey();
  if (key.ephemeral) noteEphemeralDigest(key);
  return key.key;
}

function noteEphemeralDigest(key: DigestKey): void {
  if (ephemeralWarning) return;
  ephemeralWarning = {
    message:
      `[strata] a secret-looking value in an llmKey (not a provider credential) is stored as an HMAC digest under a random key of this process (${key.why}): ` +
      `entries whose llm string holds such a value will not be shared across processes or restarts until ${DIGEST_KEY_ENV} (or the variable named by digestKeyEnv) holds a key of at least ${MIN_DIGEST_KEY_BYTES} bytes`,
    delivered: false,
  };
  deliverEphemeralWarning();
}
