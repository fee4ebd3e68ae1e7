/**
 * Secret removal from LangChain's llmKey: the only place that decides what of a model's
 * configuration may reach a tier.
 *
 * LangChain builds an llmKey as `name:JSON.stringify(value)` pairs, sorted and joined by commas
 * (`BaseLanguageModel._getSerializedCacheKeyParametersForCall`). It is not JSON: names are bare,
 * and a value JSON cannot express (a custom `fetch`) is written as `undefined`. Everything in it
 * is the model's client configuration (keys, URLs, headers, credentials) plus the call options
 * (tools, response formats). Two rules follow:
 *
 * - Secrets live where credentials live: fields named like secrets, auth headers, URL user info
 *   and key-like query parameters, `Bearer ...`, `password=...`, and strings shaped like API keys,
 *   at any depth and inside JSON nested in strings. They are removed or replaced by a marker.
 * - Schemas are never touched: a tool, function or response-format definition describes the
 *   request (a property called `password` is a field the model fills in), so stripping inside one
 *   would merge two different requests into one cache key: a wrong hit.
 *
 * What cannot be parsed is never stored as it is (fail closed): it is replaced by its digest, and
 * the caller is told why (`SanitizedLlmKey.problem`).
 */
import * as crypto from 'node:crypto';

export interface SanitizedLlmKey {
  /** What tiers may store and index. */
  readonly clean: string;
  /** Set when the llmKey could not be parsed and `clean` is its digest instead. */
  readonly problem?: string;
}

export const REDACTED = '[redacted]';

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/** Head nouns that name a secret: `password`, `clientSecret`, `accessToken`, `Authorization`, ... */
const SECRET_NOUNS = new Set([
  'password',
  'passwd',
  'passphrase',
  'secret',
  'secrets',
  'authorization',
  'credential',
  'credentials',
  'cookie',
  'cookies',
  'apikey',
  'apikeys',
  'auth',
  'token',
  'jwt',
  'bearer',
  'pem',
]);
/** Words that make a following `key`/`keys` a credential (`apiKey`, `accessKeyId`, `private_key_pem`). */
const KEY_QUALIFIERS = new Set([
  'api',
  'access',
  'private',
  'secret',
  'subscription',
  'client',
  'signing',
  'virtual',
  'function',
  'functions',
  'master',
  'account',
  'session',
  'encryption',
  'auth',
  'service',
  'app',
  'license',
  'consumer',
  'shared',
  'admin',
  'bot',
  'user',
  'host',
]);
/** `max_token`, `token_limit`: a count of tokens, not a token. */
const COUNT_WORDS = new Set(['max', 'min', 'num', 'count', 'limit', 'budget', 'total']);
/** In a header or query map any name with one of these words is a credential (`x-functions-key`). */
const MAP_SECRET_WORDS = new Set([
  'pass',
  'key',
  'keys',
  'token',
  'auth',
  'authorization',
  'secret',
  'signature',
  'sig',
  'cookie',
  'session',
  'password',
  'credential',
  'credentials',
  'jwt',
  'bearer',
  'apikey',
  'code',
]);

function nameWords(name: string): string[] {
  return plainLetters(name)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/**
 * Whether a field of a model's configuration holds a secret, judged by the words of its name
 * (camelCase, snake_case, kebab-case): `apiKey`, `openAIApiKey`, `x-api-key`, `accessKeyId`,
 * `client_secret` are; `maxTokens`, `tokenizer`, `keyPrefix`, `credentials_region` are not.
 */
export function isSecretFieldName(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0) return false;
  const last = words[words.length - 1]!;
  if (SECRET_NOUNS.has(last) && !(last === 'token' && words.some((w) => COUNT_WORDS.has(w)))) return true;
  if (words.length === 1 && (last === 'key' || last === 'keys')) return true;
  for (let i = 1; i < words.length; i++) {
    if ((words[i] === 'key' || words[i] === 'keys') && KEY_QUALIFIERS.has(words[i - 1]!)) return true;
  }
  return false;
}

/** `pässword` -> `password`: names are judged by their letters, not their accents. */
function plainLetters(name: string): string {
  return name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
}

/**
 * Parts of a header or query parameter name that mark a credential even inside a joined word
 * (`x-apitoken`, `x-accesstoken`, `Authentication`, `pwd`). Header and query names say how a
 * request is authorized or routed, rarely what is asked, so here a broad rule is the safe one.
 */
const MAP_SECRET_PARTS =
  /auth(?!or)|token|secret|passw|passphrase|pwd|apikey|key|cred|cookie|session|signature|hmac|jwt|bearer/;

/** A header or query parameter name that carries a credential. */
function isSecretMapName(name: string): boolean {
  if (isSecretFieldName(name) || nameWords(name).some((w) => MAP_SECRET_WORDS.has(w))) return true;
  return MAP_SECRET_PARTS.test(
    plainLetters(name)
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, ''),
  );
}

/**
 * Fields whose values are the request itself: tool, function and response-format schemas, and
 * content the model reads (stop sequences, predicted output, messages, instructions). Kept
 * verbatim: `stop: ["token: "]` or a schema property named `password` is part of what is asked.
 */
export const REQUEST_FIELDS: ReadonlySet<string> = new Set([
  'stop',
  'stopSequences',
  'stop_sequences',
  'prediction',
  'messages',
  'prompt',
  'system',
  'instructions',
  'input',
  'examples',
  'logit_bias',
  'logitBias',
  'tools',
  'functions',
  'function',
  'tool_choice',
  'toolChoice',
  'function_call',
  'response_format',
  'responseFormat',
  'ls_structured_output_format',
  'json_schema',
  'schema',
  'parameters',
  'input_schema',
  'inputSchema',
  'output_schema',
  'text',
]);

/** Header and query-parameter maps (`defaultHeaders`, `defaultQuery`): names there follow HTTP conventions. */
export const isMapField = (name: string) => /(headers|query)$/i.test(name);

// ---------------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------------

/** Strings shaped like API keys, wherever they appear. */
const TOKEN_SHAPES: RegExp[] = [
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  // `Bearer x` whatever x; the other schemes only before something credential-shaped (a digit in 8+ characters).
  /\b(Bearer)(\s+)[A-Za-z0-9._~+/=:-]+/gi,
  /\b(Basic|Token|Digest)(\s+)(?=[A-Za-z._~+/=:-]*\d)[A-Za-z0-9._~+/=:-]{8,}/g,
  /\b(sk|rk|pk)[-_](live_|test_|proj-|ant-|or-)?[A-Za-z0-9_-]{16,}/g,
  /\b(AKIA|ASIA)[A-Z0-9]{12,}/g,
  /\b(xox[abprs]-|ghp_|gho_|ghs_|ghu_|github_pat_|glpat-|hf_|AIza|ya29\.)[A-Za-z0-9_.-]{10,}/g,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
];
/** `name=value`, `name: value`, `"name":"value"` inside free text (connection strings, header lines). */
const INLINE_PAIR =
  /(["']?)(\p{L}[\p{L}\p{N}_.-]{0,80})\1(\s*[:=](?!\/\/)\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&"'}\])]+)/gu;
/** `?key=...&sig=...` in a URL or a query string. */
const QUERY_PARAM = /([?&;])([^=&#\s"?]+)=([^&#\s"]*)/g;
/** `scheme://user:password@host` */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi;

/** A string with every secret in it replaced by the marker; everything else stays byte for byte. */
export function scrubString(s: string): string {
  if (s.length === 0) return s;
  const nested = scrubJsonText(s) ?? scrubEncodedJson(s);
  if (nested !== undefined) return nested;
  let out = s.replace(URL_USERINFO, (_, scheme: string) => `${scheme}${REDACTED}@`);
  out = out.replace(QUERY_PARAM, (param, sep: string, name: string) =>
    isSecretMapName(safeDecode(name)) ? `${sep}${name}=${REDACTED}` : param,
  );
  for (const shape of TOKEN_SHAPES) {
    out = out.replace(shape, (_match, word: string | undefined, space: string | undefined) =>
      /^(bearer|basic|token|digest)$/i.test(word ?? '') ? `${word}${space}${REDACTED}` : REDACTED,
    );
  }
  out = out.replace(INLINE_PAIR, (pair, quote: string, name: string, sep: string, value: string) => {
    if (!isSecretMapName(name) || value.replace(/^"/, '').startsWith(REDACTED.slice(0, -1))) return pair;
    // A header line keeps its scheme word so that `Authorization: Bearer x` reads as redacted.
    if (/^(bearer|basic|token|digest)$/i.test(value)) return pair;
    const marker = value.startsWith('"') ? `"${REDACTED}"` : REDACTED;
    return `${quote}${name}${quote}${sep}${marker}`;
  });
  return out;
}

/** JSON carried percent-encoded (`%7B%22password%22...`), as in a header value or a query string. */
function scrubEncodedJson(s: string): string | undefined {
  if (!/^\s*%(7B|5B)/i.test(s)) return undefined;
  const decoded = safeDecode(s);
  const clean = decoded === s ? undefined : scrubJsonText(decoded);
  return clean === undefined || clean === decoded ? undefined : encodeURIComponent(clean);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * A string that is itself JSON (a header value carrying a JSON blob, a serialized config):
 * sanitized as a structure. Unchanged structures keep their original text, so formatting never
 * merges or splits keys that carry no secret.
 */
function scrubJsonText(s: string): string | undefined {
  const first = s.trimStart()[0];
  if (first !== '{' && first !== '[') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    return undefined;
  }
  const clean = scrubValue(parsed);
  return JSON.stringify(clean) === JSON.stringify(parsed) ? s : JSON.stringify(clean);
}

// ---------------------------------------------------------------------------------------------
// Structures
// ---------------------------------------------------------------------------------------------

/** Client configuration: secret fields dropped, header/query maps judged by name, strings scrubbed. */
function scrubValue(value: unknown): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (Array.isArray(value)) return value.map(scrubValue);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [name, inner] of Object.entries(value)) {
    if (REQUEST_FIELDS.has(name)) out[name] = inner;
    else if (isSecretFieldName(name)) continue;
    else out[name] = isMapField(name) ? scrubMapLike(inner) : scrubValue(inner);
  }
  return out;
}

/** A header or query map as clients accept it: an object, or a list of `[name, value]` pairs. */
export function scrubMapLike(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value
      .filter((pair) => !(Array.isArray(pair) && typeof pair[0] === 'string' && isSecretMapName(pair[0])))
      .map(scrubValue);
  }
  if (value !== null && typeof value === 'object') return scrubMap(value as Record<string, unknown>);
  return scrubValue(value);
}

function scrubMap(map: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, inner] of Object.entries(map)) {
    if (!isSecretMapName(name)) out[name] = scrubValue(inner);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The llmKey
// ---------------------------------------------------------------------------------------------

/** A bare model name (`gpt-4o-mini`, `llm`): no structure that could hide a field. */
const BARE_NAME = /^[\w.@/+-]{1,200}$/;

export function sanitizeLlmKeyText(llmKey: string): SanitizedLlmKey {
  const pairs = parseLangChainKey(llmKey);
  if (pairs) {
    const kept: string[] = [];
    for (const [name, value] of pairs) {
      if (value === undefined || isSecretFieldName(name)) continue;
      const clean = REQUEST_FIELDS.has(name)
        ? value
        : isMapField(name)
          ? scrubMapLike(value)
          : scrubValue(value);
      kept.push(`${name}:${JSON.stringify(clean)}`);
    }
    return { clean: kept.join(',') };
  }
  const first = llmKey.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      return { clean: JSON.stringify(scrubValue(JSON.parse(llmKey))) };
    } catch {
      // not JSON either: falls through to the digest
    }
  }
  if (BARE_NAME.test(llmKey) && scrubString(llmKey) === llmKey) return { clean: llmKey };
  return {
    clean: `unparsed-llm-key:sha256:${crypto.createHash('sha256').update(llmKey, 'utf16le').digest('hex')}`,
    problem:
      "the llmKey is neither LangChain's `name:JSON` list, JSON, nor a bare model name; only its digest is stored",
  };
}

/** `name:` at the start of a pair: anything up to the colon but a separator or a quote. */
const NAME_AT = /[^:,"{}[\]\s][^:,"{}[\]]*:/y;

/** LangChain's `name:JSON` list; `undefined` values are kept as undefined. Any other shape: undefined. */
export function parseLangChainKey(llmKey: string): Array<[string, unknown]> | undefined {
  const pairs: Array<[string, unknown]> = [];
  let pos = 0;
  while (pos < llmKey.length) {
    NAME_AT.lastIndex = pos;
    const m = NAME_AT.exec(llmKey);
    if (!m) return undefined;
    const name = m[0].slice(0, -1);
    const start = pos + m[0].length;
    let end: number;
    let value: unknown;
    if (llmKey.startsWith('undefined', start)) {
      end = start + 'undefined'.length;
      value = undefined;
    } else {
      end = jsonValueEnd(llmKey, start);
      if (end < 0) return undefined;
      try {
        value = JSON.parse(llmKey.slice(start, end));
      } catch {
        return undefined;
      }
    }
    pairs.push([name, value]);
    if (end === llmKey.length) return pairs;
    if (llmKey[end] !== ',') return undefined;
    pos = end + 1;
  }
  return undefined;
}

/** Index just past the JSON value starting at `start`, or -1. Only tracks strings and nesting; JSON.parse validates. */
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
