/**
 * What of LangChain's llmKey may reach a tier: the only place that decides it.
 *
 * LangChain builds an llmKey as `name:JSON.stringify(value)` pairs, sorted and joined by commas
 * (`BaseLanguageModel._getSerializedCacheKeyParametersForCall`). It is not JSON: names are bare,
 * and a value JSON cannot express (a custom `fetch`) is written as `undefined`. It holds the
 * model's identifying parameters (for the OpenAI family its whole client configuration: key,
 * URL, headers) plus the call options (tools, response formats, schemas, a `signal`).
 *
 * The rule is "replace, never delete on a guess": a cache key that loses a difference between two
 * requests answers one with the other's answer, the worst thing a cache can do.
 *
 * - Left out, and only these: the provider call's own credential, where a provider class keeps
 *   it (`CREDENTIAL_FIELDS` as a top-level pair or in a client-config object, the standard auth
 *   headers and key query parameters of its default headers and query), and call options that are
 *   not part of the request (`NOT_REQUEST_OPTIONS`: `signal`, `timeout`, `callbacks`, ...). A
 *   credential says who pays, not what is answered: a rotated API key keeps its answers.
 * - Digested: everything else that looks secret, by name (`password`, `x-upstream-pat`, `psk`,
 *   `client_cert_key`, any credential-like header or query name) or by shape (`Bearer ...`,
 *   `sk-...`, JWTs, PEM keys, URL user info, key query parameters, random-looking URL path
 *   segments and webhook URLs, `token: ...` pairs inside text, JSON nested in strings), wherever it
 *   sits. It is replaced by `[secret:hmac:<32 hex>]`, an HMAC-SHA-256 under the digest key: two
 *   values never share a marker, one value always gets the same one, and a short secret (a PIN)
 *   cannot be recovered from the store by trying them all. The key comes from an environment
 *   variable (`STRATA_DIGEST_KEY`, or the one the config's `digestKeyEnv` names; at least 32
 *   bytes); without one a random per-process key is used, and the first digest made with it
 *   warns (entries holding such values are not shared across processes or restarts).
 * - Never touched: the request itself. Every field in `REQUEST_FIELDS` (tools, messages, stop
 *   sequences, response formats), and any JSON Schema wherever it sits (Google's `responseSchema`,
 *   Ollama's `format`, vLLM's `extra_body.guided_json`): a property named `password` is a field
 *   the model fills in. Free text elsewhere (Cohere's `preamble`) keeps every byte but its
 *   secret-shaped parts, which are digested: "token: alpha123" and "token: beta456" stay apart.
 *
 * Sanitizing is idempotent (a stored llm string sanitizes to itself, as imports check): markers
 * are never digested again. What cannot be parsed is never stored as it is (fail closed): it is
 * replaced by its digest, and the caller is told why (`SanitizedLlmKey.problem`).
 */
import * as crypto from 'node:crypto';

export interface SanitizedLlmKey {
  /** What tiers may store and index. */
  readonly clean: string;
  /** Set when the llmKey could not be parsed and `clean` is its digest instead. */
  readonly problem?: string;
}

/**
 * The fixed marker earlier versions wrote in place of every secret (which merged different
 * requests): no longer written, but left as it is where an old llm string holds it.
 */
export const REDACTED = '[redacted]';

// ---------------------------------------------------------------------------------------------
// The digest key
// ---------------------------------------------------------------------------------------------

/** The environment variable the digest key is read from unless the config names another. */
export const DIGEST_KEY_ENV = 'STRATA_DIGEST_KEY';
/** Shortest digest key accepted, in bytes (UTF-8 of the variable's value). */
export const MIN_DIGEST_KEY_BYTES = 32;
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
export function digestKeyProblem(value: string | Uint8Array, source = DIGEST_KEY_ENV): string | undefined {
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
  if (problem) throw new TypeError(problem.replace('the environment variable digest key', 'the digest key'));
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

/** `[secret:hmac:` + 32 hex + `]`: what a secret is replaced by. */
const MARKER_HEAD = '[secret:hmac:';
/** `[secret:sha256:` + 32 hex + `]`: what a token recognised by its shape is replaced by (see shapeMarker). */
const SHAPE_MARKER_HEAD = '[secret:sha256:';
/**
 * Markers, never digested again: ours, and the fixed `[redacted]` that earlier versions wrote (so
 * an entry they exported still reads as sanitized where that is all it holds).
 */
const MARKER = /\[secret:(?:hmac|sha256):[0-9a-f]{32}\]|\[redacted\]/g;
const MARKER_EXACT = /^(?:\[secret:(?:hmac|sha256):[0-9a-f]{32}\]|\[redacted\])$/;

/** Whether `s` is exactly a marker, ours or the legacy `[redacted]` (so sanitizing again leaves it alone). */
export function isSecretMarker(s: string): boolean {
  return MARKER_EXACT.test(s);
}

/**
 * The marker of one secret: HMAC-SHA-256 under the digest key, over the value's UTF-16 code units
 * (lossless, lone surrogates included) behind a type tag (the string "1234" and the number 1234
 * are different values).
 */
export function secretMarker(value: string, kind: 'string' | 'number' = 'string'): string {
  const key = digestKey();
  if (key.ephemeral) noteEphemeralDigest(key);
  const hex = crypto
    .createHmac('sha256', key.key)
    .update(`${kind === 'string' ? 's' : 'n'}:${value}`, 'utf16le')
    .digest('hex');
  return `${MARKER_HEAD}${hex.slice(0, 32)}]`;
}

/**
 * The marker of a token recognised by its shape (an `sk-...` key, a JWT, a PEM block, a random
 * run of 20 or more characters, a bot token in a URL path): such a value has far too much entropy
 * to be guessed from its digest, so a plain SHA-256 (under a domain tag) is as safe as the HMAC
 * and, unlike an HMAC under a per-process key, the same in every process: a base URL with an
 * account id in its path keeps its entries across restarts without STRATA_DIGEST_KEY. Values
 * recognised by their name (`password=1234`) may be short and guessable: they keep the HMAC.
 */
function shapeMarker(value: string): string {
  const hex = crypto
    .createHash('sha256')
    .update(`strata-shaped-secret\u0000${value}`, 'utf16le')
    .digest('hex');
  return `${SHAPE_MARKER_HEAD}${hex.slice(0, 32)}]`;
}

/** A whole value in a secret position: its marker (an empty string or a marker stays as it is). */
function digestWhole(s: string): string {
  return s === '' || MARKER_EXACT.test(s) ? s : secretMarker(s);
}

// ---------------------------------------------------------------------------------------------
// What is left out: provider credentials, and call options that are not the request
// ---------------------------------------------------------------------------------------------

/**
 * Fields in which LangChain provider classes (and the SDK clients they configure) hold the
 * provider call's own credential. Left out of the key only as a top-level llmKey pair, or inside a
 * client-config object (`CLIENT_CONFIG_FIELDS`); anywhere else a field of that name is digested.
 */
export const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set([
  // @langchain/openai (ChatOpenAI, OpenAI, AzureChatOpenAI, AzureOpenAI, and ChatDeepSeek, ChatXAI
  // and the community classes built on them): `clientConfig` is spread into the llmKey, so the
  // OpenAI client's own options appear as top-level pairs.
  'apiKey',
  'openAIApiKey',
  'azureOpenAIApiKey',
  'azureADTokenProvider',
  'webhookSecret',
  // @langchain/anthropic (ChatAnthropic, and its `clientOptions` for the Anthropic client).
  'anthropicApiKey',
  'authToken',
  'webhookKey',
  // @langchain/aws (ChatBedrockConverse), @langchain/community BedrockChat; AWS credential objects.
  'credentials',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  'awsAccessKeyId',
  'awsSecretAccessKey',
  'awsSessionToken',
  'bedrockApiKey',
  'bedrockApiSecret',
  'bedrockApiSessionToken',
  'bedrockBearerToken',
  // @langchain/google-vertexai, google-common, google-gauth (and `apiKey` for google-genai).
  'authOptions',
  // @langchain/cloudflare, @langchain/baidu-qianfan, @langchain/yandex.
  'cloudflareApiToken',
  'qianfanAK',
  'qianfanSK',
  'qianfanAccessKey',
  'qianfanSecretKey',
  'accessToken',
  'iamToken',
  // @langchain/community chat models and LLMs.
  'ai21ApiKey',
  'watsonxAIApikey',
  'watsonxAIBearerToken',
  'watsonxAIPassword',
  'alibabaApiKey',
  'aleph_alpha_api_key',
  'fireworksApiKey',
  'friendliToken',
  'gradientAccessKey',
  'iflytekApiKey',
  'iflytekApiSecret',
  'layerupApiKey',
  'minimaxApiKey',
  'novitaApiKey',
  'tencentSecretId',
  'tencentSecretKey',
  'togetherAIApiKey',
  'zhipuAIApiKey',
]);

/** Objects that configure a provider's client: `configuration` (OpenAI), `clientOptions` (Anthropic), `options` (OpenAI per-call request options). */
const CLIENT_CONFIG_FIELDS: ReadonlySet<string> = new Set([
  'configuration',
  'clientOptions',
  'clientConfig',
  'options',
]);
/** Header maps of a provider's client (top level, or in a client config): `defaultHeaders`, and `headers` (Anthropic and Ollama, OpenAI request options). */
const CREDENTIAL_HEADER_MAPS: ReadonlySet<string> = new Set(['defaultHeaders', 'headers']);
/** The provider auth headers in those maps (compared lower-case): left out. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'x-api-key',
  'api-key',
  'x-goog-api-key',
  'ocp-apim-subscription-key',
]);
const CREDENTIAL_QUERY_MAPS: ReadonlySet<string> = new Set(['defaultQuery', 'query']);
/** The provider key query parameters in those maps (Azure `api-key`, Google `key`): left out. */
export const CREDENTIAL_QUERY_PARAMS: ReadonlySet<string> = new Set(['api-key', 'api_key', 'key']);

/**
 * Call options that are not part of the request, left out of the key at the top level: LangChain's
 * chat and text models put `signal` back among the call options (serialized as `{}`), a `timeout`
 * arrives through the OpenAI client config or the call options, and the rest are RunnableConfig
 * fields that reach the llmKey when a model is called directly with them.
 */
export const NOT_REQUEST_OPTIONS: ReadonlySet<string> = new Set([
  'signal',
  'timeout',
  'callbacks',
  'runName',
  'runId',
  'configurable',
  'recursionLimit',
  'maxConcurrency',
  'promptIndex',
]);

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/** Head nouns (the last word of a name) that name a secret: `password`, `clientSecret`, `X-Upstream-PAT`, `qianfanAK`. */
const SECRET_NOUNS = new Set([
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'pass',
  'pwd',
  'pin',
  'pincode',
  'secret',
  'secrets',
  'authorization',
  'authentication',
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
  'psk',
  'pat',
  'otp',
  'totp',
  'ak',
  'sk',
  'signature',
  'sig',
  'hmac',
]);
/** Words that make a name secret wherever they stand in it (`secretAccessKey`, `otp_code`, `psk_identity`). */
const SECRET_ANYWHERE = new Set([
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'secret',
  'secrets',
  'psk',
  'otp',
  'totp',
  'apikey',
]);
/** Words after which a `key` inside a name is a credential (`accessKeyId`, `private_key_pem`, `client_cert_key`). */
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
  'cert',
  'certificate',
  'tls',
  'ssl',
  'hmac',
  'webhook',
  'gateway',
  'upstream',
  'proxy',
  'root',
  'storage',
  'deploy',
  'ingest',
  'project',
  'restricted',
]);
/** Words before a final `key` that make it a name or an index, not a credential (`cacheKey`, `promptCacheKey`, `textKey`). */
const NOT_SECRET_KEY_QUALIFIERS = new Set([
  'cache',
  'prompt',
  'text',
  'input',
  'output',
  'sort',
  'partition',
  'primary',
  'foreign',
  'group',
  'routing',
  'dedup',
  'dedupe',
  'idempotency',
  'index',
  'row',
  'object',
  'map',
  'lookup',
  'join',
  'field',
  'column',
  'name',
  'message',
  'messages',
  'content',
  'response',
  'result',
  'metadata',
  'tag',
  'label',
  'value',
  'data',
  'page',
  'cursor',
  'shard',
  'hash',
  'range',
  'unique',
  'composite',
  'context',
  'memory',
  'chat',
  'history',
  'model',
  'schema',
  'type',
  'file',
  'document',
  'doc',
  'item',
  'allowed',
  'required',
]);
/** `max_token`, `token_limit`: a count of tokens, not a token. */
const COUNT_WORDS = new Set(['max', 'min', 'num', 'count', 'limit', 'budget', 'total']);
/** In a header or query map any name with one of these words is a credential (`x-functions-key`, `?sid=`). */
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
  'sid',
  'password',
  'passcode',
  'credential',
  'credentials',
  'jwt',
  'bearer',
  'apikey',
  'code',
  'psk',
  'pat',
  'otp',
  'totp',
  'pin',
  'pwd',
  'ak',
  'sk',
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
 * Whether a field holds a secret, judged by the words of its name (camelCase, snake_case,
 * kebab-case): `apiKey`, `openAIApiKey`, `x-api-key`, `accessKeyId`, `client_secret`, `db_pass`,
 * `github_pat`, `qianfanSK`, `client_cert_key` are; `maxTokens`, `tokenizer`, `keyPrefix`,
 * `cacheKey`, `topK`, `keepAlive`, `passages`, `credentials_region` are not. A false positive
 * costs only the readability of the stored llm string (the value is digested, not dropped).
 */
export function isSecretFieldName(name: string): boolean {
  // Judged once per name: keys and requests repeat the same few field and header names.
  let secret = secretNames.get(name);
  if (secret === undefined) {
    secret = judgeFieldName(name);
    if (secretNames.size < 8192) secretNames.set(name, secret);
  }
  return secret;
}

const secretNames = new Map<string, boolean>();

function judgeFieldName(name: string): boolean {
  const words = nameWords(name);
  if (words.length === 0) return false;
  const last = words[words.length - 1]!;
  if (SECRET_NOUNS.has(last)) {
    const counted = (last === 'token' || last === 'pass') && words.some((w) => COUNT_WORDS.has(w));
    if (!counted) return true;
  }
  if (words.some((w) => SECRET_ANYWHERE.has(w))) return true;
  if (last === 'key' || last === 'keys') {
    if (words.length === 1) return true;
    if (!NOT_SECRET_KEY_QUALIFIERS.has(words[words.length - 2]!)) return true;
  }
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
  /auth(?!or)|token|secret|passw|passphrase|passcode|pwd|apikey|key|cred|cookie|session|signature|hmac|jwt|bearer/;

/** A header or query parameter name that carries a credential. */
export function isSecretMapName(name: string): boolean {
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
 * (One exception: an MCP server definition among the tools is client configuration; its
 * `authorization` and headers are digested.)
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
// JSON Schemas, recognized by their shape wherever they sit
// ---------------------------------------------------------------------------------------------

const JSON_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);
const SCHEMA_KEYWORDS = new Set([
  'type',
  'description',
  'title',
  'enum',
  'const',
  'format',
  'default',
  'examples',
  'example',
  'nullable',
  'items',
  'prefixItems',
  'properties',
  'patternProperties',
  'additionalProperties',
  'required',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'propertyOrdering',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'minContains',
  'maxContains',
  'propertyNames',
  'dependentRequired',
  'dependentSchemas',
  'unevaluatedProperties',
  'unevaluatedItems',
  'contentEncoding',
  'contentMediaType',
  'readOnly',
  'writeOnly',
  'deprecated',
  'definitions',
  '$ref',
  '$id',
  '$schema',
  '$defs',
  '$comment',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  'additionalItems',
  'dependencies',
  'discriminator',
  'externalDocs',
  'xml',
  'strict',
]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * An object to copy fields into: without a prototype, so a field named `__proto__` (JSON.parse
 * makes it an own property) is copied as a field instead of replacing the prototype and vanishing.
 */
const newRecord = (): Record<string, unknown> => Object.create(null) as Record<string, unknown>;

/** Only schema keywords (and `x-` extensions): what a property's or an alternative's schema holds. */
const onlySchemaKeywords = (o: Record<string, unknown>) =>
  Object.keys(o).every((k) => SCHEMA_KEYWORDS.has(k) || k.startsWith('x-'));
const isSubschema = (v: unknown) => typeof v === 'boolean' || (isPlainObject(v) && onlySchemaKeywords(v));

function isJsonType(t: unknown): boolean {
  if (typeof t === 'string') return JSON_TYPES.has(t.toLowerCase());
  return (
    Array.isArray(t) &&
    t.length > 0 &&
    t.every((x) => typeof x === 'string' && JSON_TYPES.has(x.toLowerCase()))
  );
}

/**
 * Whether an object is a JSON Schema (or Google's and OpenAPI's dialect of it): `$schema`,
 * `$ref`, `$defs`, `properties` holding subschemas, `anyOf`/`oneOf`/`allOf` lists of them, or a
 * JSON `type` with `items` or with nothing but schema keywords beside it. A subschema holds only
 * schema keywords, so a configuration map that happens to be called `properties`
 * (`{ properties: { db: { password } } }`) is not taken for one.
 */
export function isJsonSchema(o: Record<string, unknown>): boolean {
  if (typeof o.$schema === 'string' || typeof o.$ref === 'string' || isPlainObject(o.$defs)) return true;
  if (isPlainObject(o.properties) && Object.values(o.properties).every(isSubschema)) return true;
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = o[k];
    if (Array.isArray(list) && list.length > 0 && list.every(isSubschema)) return true;
  }
  if (!isJsonType(o.type)) return false;
  if (o.items !== undefined && (isSubschema(o.items) || Array.isArray(o.items))) return true;
  return onlySchemaKeywords(o);
}

// ---------------------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------------------

/** Applies `fn` to the parts of `s` between markers, so a marker is never digested again. */
function outsideMarkers(s: string, fn: (piece: string) => string): string {
  if (!s.includes('[secret:') && !s.includes(REDACTED)) return fn(s);
  let out = '';
  let last = 0;
  for (const m of s.matchAll(MARKER)) {
    out += fn(s.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + fn(s.slice(last));
}

const PEM_PRIVATE_KEY =
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
/** `scheme://authority/path`: the path is looked at for tokens (the query has its own stage). */
const URL_PATH = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#\s"'<>\\]*)(\/[^?#\s"'<>\\]*)/gi;
/** `scheme://user:password@host` */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#\s]*)@/gi;
/** `?key=...&sig=...` in a URL or a query string, `;password=...` in a connection string. */
const QUERY_PARAM = /([?&;])([^=&#\s"?]+)=([^&#\s"?]*)/g;
/** `Bearer x`, whatever x (any case). */
const BEARER = /\b(Bearer)(\s+)[A-Za-z0-9._~+/=:-]+/gi;
/**
 * The other authorization schemes, only before something credential-shaped (8+ characters with a
 * digit, both cases twice, or base64 padding), so that "Basic understanding" stays prose.
 */
const OTHER_SCHEME =
  /\b(Basic|Token|Digest)(\s+)(?=[A-Za-z._~+/=:-]*\d|(?:[^\sA-Z]*[A-Z]){2}(?:[^\sa-z]*[a-z]){2}|[A-Za-z0-9._~+/:-]+=)[A-Za-z0-9._~+/=:-]{8,}/g;
/** Strings shaped like API keys, wherever they appear. */
const TOKEN_SHAPES: RegExp[] = [
  /\b(sk|rk|pk)[-_](live_|test_|proj-|ant-|or-)?[A-Za-z0-9_-]{16,}/g,
  /\b(AKIA|ASIA)[A-Z0-9]{12,}/g,
  /\b(xox[abprs]-|ghp_|gho_|ghs_|ghu_|github_pat_|glpat-|hf_|AIza|ya29\.)[A-Za-z0-9_.-]{10,}/g,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
];
/** `name=value`, `name: value`, `"name":"value"` inside free text (connection strings, header lines, a preamble). */
const INLINE_PAIR =
  /(["']?)(\p{L}[\p{L}\p{N}_.-]{0,80})\1(\s*[:=](?!\/\/)\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&"'}\])]+)/gu;
/** A run of token characters: what a random-looking credential is made of. */
const TOKEN_RUN = /[A-Za-z0-9_\-+~]{20,}={0,2}/g;
/**
 * A digest named by its algorithm (`sha256:<hex>`, as Strata's own `_strata_identity` pair and
 * content-addressed URLs carry): random-looking, but a digest, not a credential.
 */
const NAMED_DIGEST = /(?:sha(?:1|224|256|384|512)|md5|blake2[bs]?|xxh(?:64|128)?):$/i;

/**
 * Whether a run of token characters looks random (a key, not a word or a version): at least 20
 * letters and digits, both present, and changing often between upper case, lower case and digits
 * (random base-62 changes at about 60% of its characters, hex at about 47%; `claude-3-5-sonnet-20241022`
 * at 14%).
 */
export function looksRandom(run: string): boolean {
  const alnum = run.replace(/[^A-Za-z0-9]/g, '');
  if (alnum.length < 20 || !/[0-9]/.test(alnum) || !/[A-Za-z]/.test(alnum)) return false;
  const kind = (c: string) => (c >= '0' && c <= '9' ? 0 : c >= 'a' && c <= 'z' ? 1 : 2);
  let changes = 0;
  for (let i = 1; i < alnum.length; i++) if (kind(alnum[i]!) !== kind(alnum[i - 1]!)) changes++;
  return changes / (alnum.length - 1) >= 0.25;
}

const HOOK_SEGMENTS = new Set(['hooks', 'hook', 'webhooks', 'webhook']);

/**
 * Tokens in a URL path: Slack-style `/services/T.../B.../<token>`, Telegram's `/bot<id>:<token>`,
 * whatever follows a `/hooks/` or `/webhooks/` segment (with a digit, or 12+ characters), and the
 * segment after one named like a secret (`/key/<key>/`, `/token/<token>`). Random-looking
 * segments are caught by the token-run stage.
 */
function scrubUrlPath(path: string): string {
  const segments = path.split('/');
  const out = [...segments];
  let afterHook = false;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '' || MARKER_EXACT.test(seg)) continue;
    const bot = /^bot(\d{3,}:[A-Za-z0-9_-]{10,})$/.exec(seg);
    if (bot) out[i] = `bot${shapeMarker(bot[1]!)}`;
    else if (afterHook && (/\d/.test(seg) || seg.length >= 12)) out[i] = secretMarker(seg);
    if (
      seg === 'services' &&
      /^T[A-Z0-9]+$/.test(segments[i + 1] ?? '') &&
      /^B[A-Z0-9]+$/.test(segments[i + 2] ?? '') &&
      (segments[i + 3] ?? '') !== ''
    ) {
      out[i + 3] = shapeMarker(segments[i + 3]!);
    }
    if (HOOK_SEGMENTS.has(seg.toLowerCase())) afterHook = true;
    const next = segments[i + 1];
    if (next && isSecretFieldName(safeDecode(seg))) out[i + 1] = secretMarker(next);
  }
  return out.join('/');
}

/** The stages of free-text scrubbing, in order; each sees only the text between markers. */
const STRING_STAGES: Array<(s: string) => string> = [
  (s) => s.replace(PEM_PRIVATE_KEY, (block) => shapeMarker(block)),
  (s) =>
    s.replace(
      URL_PATH,
      (_, scheme: string, authority: string, path: string) => `${scheme}${authority}${scrubUrlPath(path)}`,
    ),
  (s) =>
    s.replace(URL_USERINFO, (_, scheme: string, userinfo: string) => `${scheme}${digestWhole(userinfo)}@`),
  (s) =>
    s.replace(QUERY_PARAM, (param, sep: string, name: string, value: string) =>
      value !== '' && isSecretMapName(safeDecode(name)) ? `${sep}${name}=${secretMarker(value)}` : param,
    ),
  ...[BEARER, OTHER_SCHEME].map(
    (scheme) => (s: string) =>
      s.replace(
        scheme,
        (match, word: string, space: string) =>
          `${word}${space}${secretMarker(match.slice(word.length + space.length))}`,
      ),
  ),
  ...TOKEN_SHAPES.map((shape) => (s: string) => s.replace(shape, (token) => shapeMarker(token))),
  (s) =>
    s.replace(INLINE_PAIR, (pair, quote: string, name: string, sep: string, value: string) => {
      if (!isSecretMapName(name)) return pair;
      // A header line keeps its scheme word (`Authorization: Bearer [secret:...]`).
      if (/^(bearer|basic|token|digest)$/i.test(value)) return pair;
      const inner = /^(["']).*\1$/s.test(value) ? value.slice(1, -1) : value;
      if (inner === '') return pair;
      const marker = secretMarker(inner);
      return `${quote}${name}${quote}${sep}${inner === value ? marker : `${value[0]}${marker}${value[0]}`}`;
    }),
  (s) =>
    s.replace(TOKEN_RUN, (run, at: number) =>
      !looksRandom(run) || (/^[0-9a-f]+$/i.test(run) && NAMED_DIGEST.test(s.slice(Math.max(0, at - 8), at)))
        ? run
        : shapeMarker(run),
    ),
];

/**
 * A string with every secret-shaped part replaced by its marker; everything else stays byte for
 * byte. A string that is JSON (or percent-encoded JSON) is sanitized as a structure.
 * `randomRuns: false` skips the random-looking-run stage (for model names: `Mixtral-8x7B-Instruct`).
 */
export function scrubString(s: string, randomRuns = true): string {
  if (s.length === 0 || MARKER_EXACT.test(s)) return s;
  const nested = scrubJsonText(s) ?? scrubEncodedJson(s);
  if (nested !== undefined) return nested;
  const stages = randomRuns ? STRING_STAGES : STRING_STAGES.slice(0, -1);
  // Until nothing changes: a later stage's marker can cut a match of an earlier one short
  // (`<random run>pin=1234` is one name to the pair stage, `pin=1234` once the run is digested),
  // so one pass could leave a secret that the next pass finds. Every changing pass digests more
  // of the text; the result is one that sanitizing again leaves as it is.
  let out = s;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    let next = out;
    for (const stage of stages) next = outsideMarkers(next, stage);
    if (next === out) return out;
    out = next;
  }
  return secretMarker(s);
}

/** Passes of scrubString before it gives up and digests the whole string (never reached in practice). */
const MAX_PASSES = 8;

/**
 * JSON carried percent-encoded (`%7B%22password%22...`), as in a header value or a query string.
 * Markers stay unencoded, so sanitizing the result again finds them. When the original encoding
 * is not the canonical one, re-encoding would lose how two such strings differ: the whole string
 * is digested instead.
 */
function scrubEncodedJson(s: string): string | undefined {
  if (!/^\s*%(7B|5B)/i.test(s)) return undefined;
  const decoded = safeDecode(s);
  if (decoded === s) return undefined;
  const clean = scrubJsonText(decoded);
  if (clean === undefined) return undefined;
  if (clean === decoded) return s;
  if (encodeURIComponent(decoded) !== s) return secretMarker(s);
  return outsideMarkers(clean, encodeURIComponent);
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
 * merges or splits keys that carry no secret; a changed one written in other than JSON.stringify's
 * form is digested whole (re-serializing it would merge two texts that differ in form only).
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
  const canonical = JSON.stringify(parsed);
  const cleanText = JSON.stringify(clean);
  if (cleanText === canonical) return s;
  return canonical === s ? cleanText : secretMarker(s);
}

// ---------------------------------------------------------------------------------------------
// Structures
// ---------------------------------------------------------------------------------------------

/**
 * Client configuration: schemas kept, request fields kept, header/query maps judged by name,
 * values under secret names digested whole (`secret`), every other string scrubbed.
 */
function scrubValue(value: unknown, secret = false): unknown {
  if (typeof value === 'string') return secret ? digestWhole(value) : scrubString(value);
  if (typeof value === 'number') return secret ? secretMarker(String(value), 'number') : value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, secret));
  if (!isPlainObject(value)) return value;
  if (isJsonSchema(value)) return value;
  const out = newRecord();
  for (const [name, inner] of Object.entries(value))
    out[name] = secret ? scrubValue(inner, true) : scrubField(name, inner);
  return out;
}

/**
 * Fields naming a model or a deployment: never a credential, and what the dashboard reads, so a
 * name that happens to look random (`Mixtral-8x7B-Instruct-v0.1`) is not digested for its looks
 * (credential shapes, `key=` pairs and the like still are).
 */
const MODEL_FIELDS: ReadonlySet<string> = new Set([
  'model',
  'modelName',
  'model_name',
  'modelId',
  'model_id',
  'deployment',
  'deploymentName',
  'deployment_id',
  'azureOpenAIApiDeploymentName',
]);

function scrubField(name: string, value: unknown): unknown {
  if (REQUEST_FIELDS.has(name)) return keepRequest(value);
  if (MODEL_FIELDS.has(name) && typeof value === 'string') return scrubString(value, false);
  if (isMapField(name)) return scrubMapLike(value);
  return scrubValue(value, isSecretFieldName(name));
}

/**
 * A request body as a gateway may key and store it: the request itself verbatim (the
 * `REQUEST_FIELDS`, JSON Schemas), MCP server definitions among the tools and every field named
 * like a credential digested wherever it sits (the Responses MCP tool's `authorization` and
 * `headers`, Anthropic's `mcp_servers[].authorization_token`, a body's `api_key` or
 * `extra_headers`), other strings scrubbed of secret shapes. Nothing is dropped, so two requests
 * that differ in a token still differ.
 */
export function scrubRequestBody(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out = newRecord();
  for (const [name, value] of Object.entries(body)) out[name] = scrubField(name, value);
  return out;
}

/** A request field, verbatim but for MCP server definitions among the tools (client configuration). */
function keepRequest(value: unknown): unknown {
  if (Array.isArray(value)) {
    const out = value.map(keepRequest);
    return out.some((v, i) => v !== value[i]) ? out : value;
  }
  if (!isPlainObject(value) || isJsonSchema(value)) return value;
  if (value.type === 'mcp') {
    // Every header an MCP server is given is client configuration, whatever its name (`X-Tenant`).
    const out = scrubValue(value) as Record<string, unknown>;
    if (value.headers !== undefined) out.headers = scrubValue(value.headers, true);
    return out;
  }
  let out: Record<string, unknown> | undefined;
  for (const [name, inner] of Object.entries(value)) {
    const kept = keepRequest(inner);
    if (kept !== inner) out = { ...(out ?? value), [name]: kept };
  }
  return out ?? value;
}

/**
 * A header or query map as clients accept it: an object, or a list of `[name, value]` pairs.
 * Values under credential-like names are digested; names in `leftOut` (lower-case; the provider's
 * own auth headers where the map is a provider client's) are left out.
 */
export function scrubMapLike(value: unknown, leftOut?: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const pair of value) {
      if (Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string') {
        if (leftOut?.has(pair[0].toLowerCase())) continue;
        out.push([pair[0], scrubValue(pair[1], isSecretMapName(pair[0]))]);
      } else out.push(scrubValue(pair));
    }
    return out;
  }
  if (isPlainObject(value)) {
    const out = newRecord();
    for (const [name, inner] of Object.entries(value)) {
      if (!leftOut?.has(name.toLowerCase())) out[name] = scrubValue(inner, isSecretMapName(name));
    }
    return out;
  }
  return scrubValue(value);
}

/** A provider client's configuration object: its credential fields and auth headers left out. */
function scrubClientConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out = newRecord();
  for (const [name, inner] of Object.entries(config)) {
    if (CREDENTIAL_FIELDS.has(name) || inner === undefined) continue;
    if (CREDENTIAL_HEADER_MAPS.has(name)) out[name] = scrubMapLike(inner, CREDENTIAL_HEADERS);
    else if (CREDENTIAL_QUERY_MAPS.has(name)) out[name] = scrubMapLike(inner, CREDENTIAL_QUERY_PARAMS);
    else out[name] = scrubField(name, inner);
  }
  return out;
}

const LEFT_OUT = Symbol('left out');

/** One top-level field of a model's serialized parameters (a `name:JSON` pair, or a key of JSON). */
function scrubTopLevel(name: string, value: unknown): unknown {
  if (value === undefined || NOT_REQUEST_OPTIONS.has(name) || CREDENTIAL_FIELDS.has(name)) return LEFT_OUT;
  if (CLIENT_CONFIG_FIELDS.has(name) && isPlainObject(value)) return scrubClientConfig(value);
  if (CREDENTIAL_HEADER_MAPS.has(name)) return scrubMapLike(value, CREDENTIAL_HEADERS);
  if (CREDENTIAL_QUERY_MAPS.has(name)) return scrubMapLike(value, CREDENTIAL_QUERY_PARAMS);
  return scrubField(name, value);
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
      const clean = scrubTopLevel(name, value);
      if (clean !== LEFT_OUT) kept.push(`${name}:${JSON.stringify(clean)}`);
    }
    return { clean: kept.join(',') };
  }
  const first = llmKey.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      const parsed: unknown = JSON.parse(llmKey);
      if (!isPlainObject(parsed)) return { clean: JSON.stringify(scrubValue(parsed)) };
      const out = newRecord();
      for (const [name, value] of Object.entries(parsed)) {
        const clean = scrubTopLevel(name, value);
        if (clean !== LEFT_OUT) out[name] = clean;
      }
      return { clean: JSON.stringify(out) };
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
