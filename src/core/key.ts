/**
 * Cache key derivation: the one place that decides which requests share an answer.
 *
 * A key covers (namespace, sanitized llm string, prompt). The llm string is LangChain's
 * `llmKey` sanitized by secrets.ts: the provider's own credentials and the call options that are
 * not the request left out (a rotated API key keeps the cache warm), every other secret-looking
 * value replaced by its HMAC digest (two different values never share a key), so no secret is
 * ever written to a tier.
 */
import * as crypto from 'node:crypto';
import { StrataConfigError } from '../errors.js';
import { digestKeyGeneration, sanitizeLlmKeyText } from './secrets.js';

export interface CacheKey {
  readonly namespace: string;
  /** LangChain's llmKey sanitized (credentials left out, other secrets digested); what tiers store and index. */
  readonly llmString: string;
  readonly prompt: string;
  /** SHA-256 (hex) over the three fields above, length-prefixed so no two triples collide by concatenation. */
  readonly hash: string;
  /** Set when the llmKey could not be parsed, so `llmString` is only its digest (never stored, never hashed). */
  readonly llmProblem?: string;
  /**
   * The part of the prompt that is the question, when the caller said so (`semanticQuery`): a
   * similarity tier compares only it and requires the rest to be identical. Not part of the hash.
   */
  readonly question?: string;
  /**
   * Only this key's own entry may answer it: similarity tiers are neither asked nor written
   * (embedding vectors, where another text's entry is always wrong). Not part of the hash.
   */
  readonly exact?: boolean;
}

export const DEFAULT_NAMESPACE = 'default';

/**
 * Whether an entry's llm string says its answers are embedding vectors, so its key is exact
 * (CacheKey.exact): createEmbeddingStore's `_type:"strata_embeddings",...` and the gateway's
 * `{"model":...,"endpoint":"embeddings",...}`. For keys rebuilt from stored entries (import),
 * which carry no flag of their own.
 */
export function embeddingLlmString(llmString: string): boolean {
  if (llmString.startsWith('_type:"strata_embeddings"')) return true;
  if (!llmString.startsWith('{')) return false;
  try {
    return (JSON.parse(llmString) as { endpoint?: unknown }).endpoint === 'embeddings';
  } catch {
    return false;
  }
}

/**
 * A namespace is any non-empty string of up to 256 characters: tenant ids are not ours to
 * restrict. Tiers that embed it in a key (Redis) escape it there; the key hash length-prefixes it.
 */
export function validateNamespace(namespace: unknown): string | undefined {
  if (typeof namespace !== 'string') return 'must be a string';
  if (namespace.length === 0 || namespace.length > 256) return 'must be 1-256 characters long';
  return undefined;
}

export function assertNamespace(namespace: string, field = 'namespace'): string {
  const problem = validateNamespace(namespace);
  if (problem)
    throw new StrataConfigError([{ path: field, message: `${problem} (got ${JSON.stringify(namespace)})` }]);
  return namespace;
}

/**
 * SHA-256 over namespace, the llm string's own SHA-256, and the prompt. The llm string enters by
 * its digest, which is computed once per distinct llmKey (memoized with the sanitizing), so a
 * lookup hashes only the namespace and the prompt.
 */
export function hashKey(namespace: string, llmString: string, prompt: string): string {
  return hashWithDigest(namespace, digestOf(llmString), prompt);
}

/**
 * Hashing must be lossless: SHA-256 over UTF-8 turns every lone surrogate into U+FFFD, so
 * `'x\uD83C'` and `'x\uD83D'` (prompts cut mid-emoji) would share a key. Well-formed text is
 * hashed as UTF-8 (the fast, common case); text with a lone surrogate is hashed as its JSON
 * string literal, which escapes the surrogate, behind a leading `j` that no well-formed framing
 * starts with (those start with the namespace length's digits).
 */
function hashWithDigest(namespace: string, llmDigest: string, prompt: string): string {
  if (namespace.isWellFormed() && prompt.isWellFormed())
    return sha256Hex(`${namespace.length}:${namespace}${llmDigest}${prompt}`);
  return sha256Hex(`j${namespace.length}:${JSON.stringify(namespace)}${llmDigest}${JSON.stringify(prompt)}`);
}

function digestOf(text: string): string {
  return sha256Hex(text.isWellFormed() ? text : `j${JSON.stringify(text)}`);
}

/** One-shot crypto.hash (Node >= 20.12) skips the Hash object: about 20% faster per key. */
const sha256Hex: (data: string) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

export function deriveKey(namespace: string, llmKey: string, prompt: string): CacheKey {
  const llm = sanitized(llmKey);
  const key = {
    namespace,
    llmString: llm.clean,
    prompt,
    hash: hashWithDigest(namespace, llm.digest, prompt),
  };
  return llm.problem === undefined ? key : { ...key, llmProblem: llm.problem };
}

/** SHA-256 of a prompt, as stored in place of the text under `storePrompt: false`; lossless like the key. */
export function hashPrompt(prompt: string): string {
  return digestOf(prompt);
}

/**
 * Models reuse one llmKey for every call, so sanitizing is memoized; the bound keeps a process
 * that builds llmKeys from per-request options from growing without limit. A sanitized key holds
 * markers made with the digest key, so the memo is dropped when that key is replaced.
 */
const MEMO_LIMIT = 512;
const memo = new Map<string, { clean: string; digest: string; problem?: string }>();
let memoGeneration = digestKeyGeneration();

function sanitized(llmKey: string): { clean: string; digest: string; problem?: string } {
  const generation = digestKeyGeneration();
  if (generation !== memoGeneration) {
    memo.clear();
    memoGeneration = generation;
  }
  const known = memo.get(llmKey);
  if (known !== undefined) return known;
  const { clean, problem } = sanitizeLlmKeyText(llmKey);
  const entry = { clean, digest: digestOf(clean), ...(problem === undefined ? {} : { problem }) };
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value!);
  memo.set(llmKey, entry);
  return entry;
}

export { isSecretFieldName } from './secrets.js';

export function sanitizeLlmKey(llmKey: string): string {
  return sanitized(llmKey).clean;
}
