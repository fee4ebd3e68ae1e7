/**
 * Cache key derivation: the one place that decides which requests share an answer.
 *
 * A key covers (namespace, sanitized llm string, prompt). The llm string is LangChain's
 * `llmKey` with every secret removed, so that a rotated API key keeps the cache warm and no
 * secret is ever written to a tier.
 */
import * as crypto from 'node:crypto';

export interface CacheKey {
  readonly namespace: string;
  /** LangChain's llmKey with secrets removed; what tiers store and index. */
  readonly llmString: string;
  readonly prompt: string;
  /** SHA-256 (hex) over the three fields above, length-prefixed so no two triples collide by concatenation. */
  readonly hash: string;
}

export const DEFAULT_NAMESPACE = 'default';

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
  if (problem) throw new TypeError(`${field}: ${problem} (got ${JSON.stringify(namespace)})`);
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

function hashWithDigest(namespace: string, llmDigest: string, prompt: string): string {
  return sha256Hex(`${namespace.length}:${namespace}${llmDigest}${prompt}`);
}

function digestOf(llmString: string): string {
  return sha256Hex(llmString);
}

/** One-shot crypto.hash (Node >= 20.12) skips the Hash object: about 20% faster per key. */
const sha256Hex: (data: string) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

export function deriveKey(namespace: string, llmKey: string, prompt: string): CacheKey {
  const llm = sanitized(llmKey);
  return { namespace, llmString: llm.clean, prompt, hash: hashWithDigest(namespace, llm.digest, prompt) };
}

export function hashPrompt(prompt: string): string {
  return sha256Hex(prompt);
}

// ---------------------------------------------------------------------------------------------
// Secret removal
// ---------------------------------------------------------------------------------------------

/**
 * Field names are split into words (camelCase, snake_case, kebab-case) and judged by the words,
 * so `apiKey`, `openAIApiKey`, `x-api-key`, `accessToken` and `Authorization` are secrets while
 * `maxTokens`, `tokenizer` or `keyPrefix` are not: dropping a parameter that changes the answer
 * would produce wrong hits, which is worse than keeping a secret out.
 */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'passphrase',
  'secret',
  'authorization',
  'credential',
  'credentials',
  'cookie',
  'apikey',
  'auth',
]);
const KEY_QUALIFIERS = new Set(['api', 'access', 'private', 'secret', 'subscription', 'client', 'signing']);

function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function isSecretFieldName(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0) return false;
  const last = words[words.length - 1]!;
  if (words.some((w) => SECRET_WORDS.has(w))) return true;
  if (last === 'token') return true;
  if (last === 'key' && words.length > 1 && KEY_QUALIFIERS.has(words[words.length - 2]!)) return true;
  return false;
}

/** Values that are secrets whatever field holds them (headers passed as free-form maps, URLs built by hand). */
const SECRET_VALUE =
  /^(Bearer|Basic)\s+\S+|^(sk-|sk_live_|rk_live_|xox[abp]-|ghp_|gho_|hf_|AIza)[A-Za-z0-9_-]{16,}/;

function stripSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripSecrets);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [name, inner] of Object.entries(value)) {
      if (isSecretFieldName(name)) continue;
      if (typeof inner === 'string' && SECRET_VALUE.test(inner)) continue;
      out[name] = stripSecrets(inner);
    }
    return out;
  }
  return value;
}

/**
 * LangChain builds llmKey as `name:JSON` pairs, sorted and joined by commas
 * (`BaseLanguageModel._getSerializedCacheKeyParametersForCall`). Parse that shape exactly; a key
 * of any other shape is parsed as JSON, and failing that only its secret-looking `"name":"value"`
 * pairs are removed by pattern.
 */
function sanitizeUncached(llmKey: string): string {
  const pairs = parseLangChainKey(llmKey);
  if (pairs) {
    return pairs
      .filter(
        ([name, value]) =>
          !isSecretFieldName(name) && !(typeof value === 'string' && SECRET_VALUE.test(value)),
      )
      .map(([name, value]) => `${name}:${JSON.stringify(stripSecrets(value))}`)
      .join(',');
  }
  try {
    return JSON.stringify(stripSecrets(JSON.parse(llmKey)));
  } catch {
    return llmKey.replace(/"([^"\\]{1,80})"\s*:\s*"(?:[^"\\]|\\.)*"/g, (pair, name: string) =>
      isSecretFieldName(name) ? `"${name}":"[redacted]"` : pair,
    );
  }
}

const NAME_AT = /[A-Za-z_$][\w$.-]*:/y;

function parseLangChainKey(llmKey: string): Array<[string, unknown]> | undefined {
  const pairs: Array<[string, unknown]> = [];
  let pos = 0;
  while (pos < llmKey.length) {
    NAME_AT.lastIndex = pos;
    const m = NAME_AT.exec(llmKey);
    if (!m) return undefined;
    const name = m[0].slice(0, -1);
    const start = pos + m[0].length;
    const end = jsonValueEnd(llmKey, start);
    if (end < 0) return undefined;
    try {
      pairs.push([name, JSON.parse(llmKey.slice(start, end))]);
    } catch {
      return undefined;
    }
    if (end === llmKey.length) return pairs;
    if (llmKey[end] !== ',') return undefined;
    pos = end + 1;
  }
  return pairs.length > 0 ? pairs : undefined;
}

/** Index just past the JSON value starting at `start`, or -1. Only tracks strings and nesting. */
function jsonValueEnd(s: string, start: number): number {
  let depth = 0;
  let i = start;
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
      if (i >= s.length) return -1;
      if (depth === 0) return i + 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth < 0) return -1;
      if (depth === 0) return i + 1;
    } else if (c === ',' && depth === 0) return i === start ? -1 : i;
  }
  return depth === 0 && i > start ? i : -1;
}

/**
 * Models reuse one llmKey for every call, so sanitizing is memoized; the bound keeps a process
 * that builds llmKeys from per-request options from growing without limit.
 */
const MEMO_LIMIT = 512;
const memo = new Map<string, { clean: string; digest: string }>();

function sanitized(llmKey: string): { clean: string; digest: string } {
  const known = memo.get(llmKey);
  if (known !== undefined) return known;
  const clean = sanitizeUncached(llmKey);
  const entry = { clean, digest: digestOf(clean) };
  if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value!);
  memo.set(llmKey, entry);
  return entry;
}

export function sanitizeLlmKey(llmKey: string): string {
  return sanitized(llmKey).clean;
}
