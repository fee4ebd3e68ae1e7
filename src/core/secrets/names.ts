/**
 * Whether a name says its value is a secret: field names by their words (camelCase, snake_case,
 * kebab-case), header and query parameter names by a broader rule. The word tables are the policy.
 */

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
