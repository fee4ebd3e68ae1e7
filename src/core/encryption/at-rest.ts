/**
 * Encryption at rest as the manager applies it (docs/encryption.md): every payload handed to a
 * sealed tier is sealed under the active key with the entry's namespace and key hash as
 * associated data, and the prompt and metadata a tier could keep in columns beside it are left
 * out; every payload read from one is opened before anything decodes it. A payload that does not
 * open (another key, another row, a flipped bit, an unknown key id) or, unless `acceptPlaintext`,
 * one stored in clear, is a miss counted as corrupt, never an answer.
 *
 * A tier that keeps nothing beyond the process (memory, `volatile`) is handed plain payloads: there
 * is nothing at rest to protect there, and its hits stay as cheap as without encryption.
 */
import { createHash } from 'node:crypto';
import type { StoredEntry } from '../entry.js';
import type { CacheKey } from '../key.js';
import { isSealed, type Sealer } from './keyring.js';
import { OpenedPayloads } from './opened.js';

/** The associated data an entry's payload is sealed with: the row it belongs to. */
export function entryAad(namespace: string, hash: string): string {
  return `entry\0${namespace}\0${hash}`;
}

/** The associated data of an export line (`strata export` under encryption): never a row's. */
export function exportAad(namespace: string, hash: string): string {
  return `export\0${namespace}\0${hash}`;
}

/**
 * The key as a sealed tier is told it under encryption: the llm string as its digest. LangChain's
 * llm string carries request content (bound tools with their descriptions and schemas, a
 * structured-output schema, stop sequences, an OpenAI predicted-output document), and tiers keep
 * it in a column; its digest still tells one model and its settings from another (the semantic
 * tier partitions by it), which is all a tier does with it. The entry's own copy is inside the
 * sealed payload, where the manager checks it.
 */
export function keyForSealedTier(key: CacheKey): CacheKey {
  let hidden = hiddenKeys.get(key);
  if (!hidden) {
    const digest = `sha256:${createHash('sha256').update(key.llmString).digest('hex')}`;
    hidden = { ...key, llmString: digest };
    hiddenKeys.set(key, hidden);
  }
  return hidden;
}
/** One digest per lookup's key, however many tiers it goes through. */
const hiddenKeys = new WeakMap<CacheKey, CacheKey>();

export interface AtRestOptions {
  /** The config's key set; undefined when encryption is off (a call may still bring its own sealer). */
  sealer?: Sealer;
  /** Plain payloads in sealed tiers still answer (a migration window); default false. */
  acceptPlaintext?: boolean;
}

export class AtRest {
  readonly sealer: Sealer | undefined;
  private readonly acceptPlaintext: boolean;
  /** A hit's sealed payload opened once, not at every hit (opened.ts). */
  private readonly opened = new OpenedPayloads();

  constructor(options: AtRestOptions = {}) {
    this.sealer = options.sealer;
    this.acceptPlaintext = options.acceptPlaintext === true;
  }

  /**
   * The plain payload of what a tier read, or undefined when it must not be used: a sealed one
   * that does not open with this call's sealer (or any, encryption being off), or, from a
   * sealed tier under encryption, one in clear (anyone who can write the store could have
   * planted it) unless plaintext is accepted.
   */
  open(
    payload: string,
    namespace: string,
    hash: string,
    sealedTier: boolean,
    sealer: Sealer | undefined = this.sealer,
  ): string | undefined {
    if (isSealed(payload))
      return sealer && this.opened.open(payload, namespace, hash, sealer, entryAad(namespace, hash));
    return !sealedTier || sealer === undefined || this.acceptPlaintext ? payload : undefined;
  }

  /**
   * What a tier is handed for an entry: as it is for an unsealed tier or without encryption;
   * else the payload sealed, without the prompt and metadata columns (sizes, times, tags and
   * token counts stay readable). `memo` seals once for every sealed tier of one write.
   */
  stored(
    stored: StoredEntry,
    namespace: string,
    hash: string,
    sealedTier: boolean,
    sealer: Sealer | undefined = this.sealer,
    memo?: { sealed?: StoredEntry },
  ): StoredEntry {
    if (!sealedTier || sealer === undefined) return stored;
    if (memo?.sealed) return memo.sealed;
    const payload = sealer.seal(stored.payload, entryAad(namespace, hash));
    const sealed: StoredEntry = {
      payload,
      size: Buffer.byteLength(payload),
      createdAt: stored.createdAt,
      expiresAt: stored.expiresAt,
      tags: stored.tags,
      ...(stored.usage ? { usage: stored.usage } : {}),
    };
    if (memo) memo.sealed = sealed;
    return sealed;
  }
}
